fn main() {
    println!("cargo:rerun-if-changed=csrc/ldfloat.c");
    cc::Build::new()
        .file("csrc/ldfloat.c")
        .opt_level(2)
        .compile("ferrokv_ldfloat");
}
