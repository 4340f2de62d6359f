//! Tests for the Redis Lua libraries. The expected strings were captured
//! from redis-server 7.0.15 by running each snippet through EVAL inside
//! [`WRAPPER_HEAD`]/[`WRAPPER_TAIL`] (which reset cjson's settings, since
//! Redis keeps them between scripts); the chunk is named `user_script`, as
//! Redis names it, so error positions match too.

use mlua::Lua;

use super::open_all;

mod randomized;

const WRAPPER_HEAD: &str = r###"cjson.encode_max_depth(1000) cjson.decode_max_depth(1000) cjson.encode_invalid_numbers(false) cjson.decode_invalid_numbers(true) cjson.encode_number_precision(14) cjson.encode_sparse_array(false, 2, 10) cjson.encode_keep_buffer(true)
local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end
local function show(...) local n = select('#', ...) local t = {} for i = 1, n do local v = select(i, ...) if type(v) == 'string' then t[i] = 's:' .. v elseif v == cjson.null then t[i] = 'null' else t[i] = type(v) .. ':' .. tostring(v) end end return table.concat(t, ' ') end
local ok, r = pcall(function() "###;
const WRAPPER_TAIL: &str = r###" end)
if not ok then return 'ERR:' .. tostring(r) end
return r"###;

fn new_lua() -> Lua {
    let lua = Lua::new();
    open_all(&lua).expect("libraries open");
    lua
}

/// Runs `code` as Redis's EVAL wrapper does and returns the string result.
fn eval(lua: &Lua, code: &str) -> Vec<u8> {
    let chunk = format!("{WRAPPER_HEAD}{code}{WRAPPER_TAIL}");
    let s: mlua::LuaString = lua
        .load(chunk)
        .set_name("=user_script")
        .eval()
        .unwrap_or_else(|e| panic!("{code}: {e}"));
    s.as_bytes().to_vec()
}

fn check(cases: &[(&str, &[u8])]) {
    let mut failures = Vec::new();
    for (code, want) in cases {
        let got = eval(&new_lua(), code);
        if got != *want {
            failures.push(format!(
                "{code}\n  want {}\n  got  {}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bit_matches_redis() {
    check(&[
    (
        r###"return show(bit.tobit(1), bit.tobit(-1), bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(2^52), bit.tobit(1e300), bit.tobit(-2^31), bit.tobit("12"), bit.tobit(0/0), bit.tobit(1/0))"###,
        b"number:1 number:-1 number:-1 number:5 number:2 number:2 number:-2 number:0 number:-2013235812 number:-2147483648 number:12 number:0 number:0",
    ),
    (
        r###"return show(bit.tohex(1), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 9), bit.tohex(0x12345678, -9), bit.tohex(5, 0), bit.tohex(-2^31, -2^31), bit.tohex(3.7), bit.tohex(0xabcdef, 3))"###,
        b"s:00000001 s:ffffffff s:ff s:00FF s:12345678 s:12345678 s: s:80000000 s:00000004 s:def",
    ),
    (
        r###"return show(bit.bnot(0), bit.bnot(-1), bit.bnot(5.5), bit.bnot(2^33))"###,
        b"number:-1 number:0 number:-7 number:-1",
    ),
    (
        r###"return show(bit.band(0xff, 0x0f), bit.band(-1), bit.band(7, 3, 1), bit.bor(1, 2, 4, 8), bit.bor(-2^31, 1), bit.bxor(0xff, 0x0f), bit.bxor(1, 1, 1), bit.band(2^40 + 3, 1))"###,
        b"number:15 number:-1 number:1 number:15 number:-2147483647 number:240 number:1 number:1",
    ),
    (
        r###"return show(bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(1, -1), bit.rshift(-1, 28), bit.rshift(-1, 0), bit.arshift(-256, 4), bit.arshift(256, 4), bit.arshift(-1, 31), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.rol(1, 32), bit.ror(1, 1))"###,
        b"number:-2147483648 number:1 number:2 number:-2147483648 number:15 number:-1 number:-16 number:16 number:-1 number:878082066 number:2014458966 number:1 number:-2147483648",
    ),
    (
        r###"return show(bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(1), bit.bswap(0x80))"###,
        b"number:2018915346 number:-1 number:16777216 number:-2147483648",
    ),
    (
        r###"return show(bit.tobit(1.4999999), bit.tobit(0.5), bit.tobit(-0.5), bit.tobit(3.5), bit.tobit(2^31), bit.tobit(2^31 - 0.5), bit.tobit(-2^51), bit.tobit(2^51))"###,
        b"number:1 number:0 number:0 number:4 number:-2147483648 number:-2147483648 number:0 number:0",
    ),
    (
        r###"return bit.tobit()"###,
        b"ERR:user_script:4: bad argument #1 to 'tobit' (number expected, got no value)",
    ),
    (
        r###"return bit.tobit(nil)"###,
        b"ERR:user_script:4: bad argument #1 to 'tobit' (number expected, got nil)",
    ),
    (
        r###"return bit.band(1, {})"###,
        b"ERR:user_script:4: bad argument #2 to 'band' (number expected, got table)",
    ),
    (
        r###"return bit.bor(1, 2, "x")"###,
        b"ERR:user_script:4: bad argument #3 to 'bor' (number expected, got string)",
    ),
    (
        r###"return bit.tobit("abc")"###,
        b"ERR:user_script:4: bad argument #1 to 'tobit' (number expected, got string)",
    ),
    (
        r###"return bit.tohex(1, nil)"###,
        b"ERR:user_script:4: bad argument #2 to 'tohex' (number expected, got nil)",
    ),
    (
        r###"return bit.lshift(1)"###,
        b"ERR:user_script:4: bad argument #2 to 'lshift' (number expected, got no value)",
    ),
    (
        r###"return show(bit.tobit("0x10"), bit.tobit(" 7 "))"###,
        b"number:16 number:7",
    ),
    ]);
}

#[test]
fn structlib_matches_redis() {
    check(&[
    (
        r###"return hex(struct.pack("bBhHlLTiI", -1, 255, -2, 65535, -3, 4, 5, -6, 7))"###,
        b"fffffefffffffdffffffffffffff04000000000000000500000000000000faffffff07000000",
    ),
    (
        r###"return hex(struct.pack(">bBhHlLTiI", -1, 255, -2, 65535, -3, 4, 5, -6, 7))"###,
        b"fffffffefffffffffffffffffffd00000000000000040000000000000005fffffffa00000007",
    ),
    (
        r###"return hex(struct.pack("<i1i2i3i5i8i9i16", 1, -2, 3, -4, 5, -6, 7))"###,
        b"01feff030000fcffffffff0500000000000000faffffffffffffff0007000000000000000000000000000000",
    ),
    (
        r###"return hex(struct.pack(">i3i9I16", -2, -3, 7))"###,
        b"fffffe00fffffffffffffffd00000000000000000000000000000007",
    ),
    (
        r###"return hex(struct.pack("fd", 1.5, 0.1) .. struct.pack(">fd", 1.5, 0.1))"###,
        b"0000c03f9a9999999999b93f3fc000003fb999999999999a",
    ),
    (
        r###"return hex(struct.pack("!bi", 1, 2) .. "|" .. struct.pack("!2bi", 1, 2) .. "|" .. struct.pack("!bd", 1, 2) .. "|" .. struct.pack("!4bhbd", 1, 2, 3, 4))"###,
        b"01000000020000007c0100020000007c010000000000000000000000000000407c01000200030000000000000000001040",
    ),
    (
        r###"return hex(struct.pack("c3c0s xbx", "abcdef", "zz", "str", 9))"###,
        b"6162637a7a73747200000900",
    ),
    (
        r###"return hex(struct.pack("i", 2^31) .. struct.pack("I", -1) .. struct.pack("l", 2^63) .. struct.pack("L", 2^64) .. struct.pack("l", 1e300) .. struct.pack("l", -1e300) .. struct.pack("l", 0/0) .. struct.pack("L", 2^63 + 2^62) .. struct.pack("b", 3.9) .. struct.pack("b", -3.9))"###,
        b"00000080ffffffff0000000000000080000000000000000000000000000000000000000000000080000000000000008000000000000000c003fd",
    ),
    (
        r###"return struct.pack("c5", "abc")"###,
        b"ERR:user_script:4: bad argument #3 to 'pack' (string too short)",
    ),
    (
        r###"return struct.pack("s", {})"###,
        b"ERR:user_script:4: bad argument #2 to 'pack' (string expected, got table)",
    ),
    (
        r###"return struct.pack("i", "x")"###,
        b"ERR:user_script:4: bad argument #2 to 'pack' (number expected, got string)",
    ),
    (
        r###"return struct.pack("q", 1)"###,
        b"ERR:user_script:4: bad argument #1 to 'pack' (invalid format option 'q')",
    ),
    (
        r###"return struct.pack("i33", 1)"###,
        b"ERR:user_script:4: integral size 33 is larger than limit of 32",
    ),
    (
        r###"return struct.pack("!3", 1)"###,
        b"ERR:user_script:4: alignment 3 is not a power of 2",
    ),
    (
        r###"return struct.pack("i99999999999", 1)"###,
        b"ERR:user_script:4: integral size overflow",
    ),
    (
        r###"return struct.pack("i")"###,
        b"ERR:user_script:4: bad argument #2 to 'pack' (number expected, got nil)",
    ),
    (
        r###"return show(struct.unpack("bBhHlLTiI", struct.pack("bBhHlLTiI", -1, 255, -2, 65535, -3, 4, 5, -6, 7)))"###,
        b"number:-1 number:255 number:-2 number:65535 number:-3 number:4 number:5 number:-6 number:7 number:39",
    ),
    (
        r###"return show(struct.unpack(">i3I3<i3", string.char(255, 255, 254, 255, 255, 254, 1, 2, 3)))"###,
        b"number:-2 number:16777214 number:197121 number:10",
    ),
    (
        r###"return show(struct.unpack("fd>fd", struct.pack("fd>fd", 1.5, 0.1, -2.25, 1e300)))"###,
        b"number:1.5 number:0.1 number:-2.25 number:1e+300 number:25",
    ),
    (
        r###"return show(struct.unpack("c3 s x b", "abcdef\0zq"))"###,
        b"s:abc s:def number:113 number:10",
    ),
    (
        r###"return show(struct.unpack("bc0", "\3abcdef"))"###,
        b"s:abc number:5",
    ),
    (
        r###"return show(struct.unpack("!4bi", "\1\0\0\0\2\0\0\0"))"###,
        b"number:1 number:2 number:9",
    ),
    (
        r###"return show(struct.unpack("b", "\1\2\3", 2))"###,
        b"number:2 number:3",
    ),
    (
        r###"return show(struct.unpack("b", "\1\2\3", 4))"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (data string too short)",
    ),
    (
        r###"return show(struct.unpack("i9i16I9", string.rep("\255", 34)))"###,
        b"number:-1 number:-1 number:1.844674407371e+19 number:35",
    ),
    (
        r###"return show(struct.unpack("i0", "abc"))"###,
        b"number:0 number:1",
    ),
    (
        r###"return struct.unpack("b", "\1", 0)"###,
        b"ERR:user_script:4: bad argument #3 to 'unpack' (offset must be 1 or greater)",
    ),
    (
        r###"return struct.unpack("b", "\1", -1)"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (data string too short)",
    ),
    (
        r###"return struct.unpack("i", "abc")"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (data string too short)",
    ),
    (
        r###"return struct.unpack("s", "abc")"###,
        b"ERR:user_script:4: unfinished string in data",
    ),
    (
        r###"return struct.unpack("c0", "abc")"###,
        b"ERR:user_script:4: format 'c0' needs a previous size",
    ),
    (
        r###"return struct.unpack("s c0", "2\0abc")"###,
        b"ab",
    ),
    (
        r###"return struct.unpack("s c0", "9\0abc")"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (data string too short)",
    ),
    (
        r###"return struct.unpack("b c0", "\255abc")"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (data string too short)",
    ),
    (
        r###"return struct.unpack("z", "abc")"###,
        b"ERR:user_script:4: bad argument #1 to 'unpack' (invalid format option 'z')",
    ),
    (
        r###"return struct.unpack("b", {})"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack' (string expected, got table)",
    ),
    (
        r###"return show(struct.size("bBhHlLTiIfdx"), struct.size("!bd"), struct.size("!2bd"), struct.size("c10i3"), struct.size("<>! b"), struct.size("z"), struct.size(""))"###,
        b"number:51 number:16 number:10 number:13 number:1 number:0 number:0",
    ),
    (
        r###"return struct.size("s")"###,
        b"ERR:user_script:4: bad argument #1 to 'size' (option 's' has no fixed size)",
    ),
    (
        r###"return struct.size("c0")"###,
        b"ERR:user_script:4: bad argument #1 to 'size' (option 'c0' has no fixed size)",
    ),
    (
        r###"return struct.size("#")"###,
        b"ERR:user_script:4: bad argument #1 to 'size' (invalid format option '#')",
    ),
    (
        r###"return struct.size("!5")"###,
        b"ERR:user_script:4: alignment 5 is not a power of 2",
    ),
    (
        r###"return show(struct.unpack(">I8", struct.pack(">I8", 2^53 + 2)))"###,
        b"number:9.007199254741e+15 number:9",
    ),
    (
        r###"return show(struct.pack("x"):byte(), #struct.pack("i32", 1), struct.unpack("d", struct.pack("d", 1/0)))"###,
        b"number:0 number:32 number:inf number:9",
    ),
    (
        r###"return show(struct.unpack("bb", "\1\2\3\4", 3))"###,
        b"number:3 number:4 number:5",
    ),
    ]);
}

#[test]
fn cmsgpack_matches_redis() {
    check(&[
    (
        r###"return hex(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53))"###,
        b"00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000",
    ),
    (
        r###"return hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53))"###,
        b"ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000000",
    ),
    (
        r###"return hex(cmsgpack.pack(0.5, 0.1, 1.5, -2.25, 1e300, 1/0, -1/0, 2^63, -2^63, 2^64))"###,
        b"ca3f000000cb3fb999999999999aca3fc00000cac0100000cb7e37e43c8800759cca7f800000caff800000ca5f000000d38000000000000000ca5f800000",
    ),
    (
        r###"return hex(cmsgpack.pack(0/0))"###,
        b"cbfff8000000000000",
    ),
    (
        r###"return hex(cmsgpack.pack(true, false, nil, "", "abc", string.rep("x", 31), string.rep("y", 32)))"###,
        b"c3c2c0a0a3616263bf78787878787878787878787878787878787878787878787878787878787878d9207979797979797979797979797979797979797979797979797979797979797979",
    ),
    (
        r###"return hex(cmsgpack.pack(string.rep("z", 255))):sub(1, 10) .. hex(cmsgpack.pack(string.rep("z", 256))):sub(1, 10) .. hex(cmsgpack.pack(string.rep("z", 65536))):sub(1, 12)"###,
        b"d9ff7a7a7ada01007a7adb000100007a",
    ),
    (
        r###"return hex(cmsgpack.pack({1, 2, 3}, {}, {a = 1}, {[1] = 1, [3] = 3}, {[0] = 1}, {[1.5] = 2}))"###,
        b"930102039081a16101820101030381000181ca3fc0000002",
    ),
    (
        r###"local t = {} for i = 1, 16 do t[i] = i end local m = {} for i = 1, 16 do m["k" .. i] = 1 end return hex(cmsgpack.pack(t)):sub(1, 8) .. " " .. #cmsgpack.pack(m) .. " " .. hex(cmsgpack.pack(m)):sub(1, 6)"###,
        b"dc001001 74 de0010",
    ),
    (
        r###"local t = {} for i = 1, 65536 do t[i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 12)"###,
        b"dd0001000000",
    ),
    (
        r###"local t = {} t[1] = t return hex(cmsgpack.pack(t))"###,
        b"91919191919191919191919191919191c0",
    ),
    (
        r###"return hex(cmsgpack.pack(string.len, coroutine.create(function() end), cjson.null))"###,
        b"c0c0c0",
    ),
    (
        r###"return cmsgpack.pack()"###,
        b"ERR:user_script:4: bad argument #0 to 'pack' (MessagePack pack needs input.)",
    ),
    (
        r###"return show(cmsgpack.unpack(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53, -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31 - 1, -2^53)))"###,
        b"number:0 number:1 number:127 number:128 number:255 number:256 number:65535 number:65536 number:4294967295 number:4294967296 number:9.007199254741e+15 number:-1 number:-32 number:-33 number:-128 number:-129 number:-32768 number:-32769 number:-2147483648 number:-2147483649 number:-9.007199254741e+15",
    ),
    (
        r###"return show(cmsgpack.unpack(cmsgpack.pack(0.5, 0.1, 1.5, -2.25, 1e300, 1/0, -1/0, 2^63, -2^63, 2^64, true, false, nil, "", "abc")))"###,
        b"number:0.5 number:0.1 number:1.5 number:-2.25 number:1e+300 number:inf number:-inf number:9.2233720368548e+18 number:-9.2233720368548e+18 number:1.844674407371e+19 boolean:true boolean:false nil:nil s: s:abc",
    ),
    (
        r###"return show(cmsgpack.unpack("\207\255\255\255\255\255\255\255\255", "\207\128\0\0\0\0\0\0\1"))"###,
        b"number:-1",
    ),
    (
        r###"return show(cmsgpack.unpack("\207\255\255\255\255\255\255\255\255"), cmsgpack.unpack("\207\128\0\0\0\0\0\0\1"), cmsgpack.unpack("\211\128\0\0\0\0\0\0\1"), cmsgpack.unpack("\209\255\1"), cmsgpack.unpack("\210\128\0\0\0"))"###,
        b"number:-1 number:-9.2233720368548e+18 number:-9.2233720368548e+18 number:-255 number:-2147483648",
    ),
    (
        r###"local a = cmsgpack.unpack(cmsgpack.pack({1, {2, {3, "x"}}, {k = {v = true}}})) return show(a[1], a[2][1], a[2][2][1], a[2][2][2], a[3].k.v, #a)"###,
        b"number:1 number:2 number:3 s:x boolean:true number:3",
    ),
    (
        r###"local t = cmsgpack.unpack("\130\161a\1\161b\146\2\3") return show(t.a, t.b[1], t.b[2])"###,
        b"number:1 number:2 number:3",
    ),
    (
        r###"return show(cmsgpack.unpack("\196"))"###,
        b"ERR:user_script:4: Bad data format in input.",
    ),
    (
        r###"return show(cmsgpack.unpack("\193"))"###,
        b"ERR:user_script:4: Bad data format in input.",
    ),
    (
        r###"return show(cmsgpack.unpack("\146\1"))"###,
        b"ERR:user_script:4: Missing bytes in input.",
    ),
    (
        r###"return show(cmsgpack.unpack("\217\5abc"))"###,
        b"ERR:user_script:4: Missing bytes in input.",
    ),
    (
        r###"return show(cmsgpack.unpack("\221\255\255\255\255"))"###,
        b"ERR:user_script:4: Missing bytes in input.",
    ),
    (
        r###"return show(cmsgpack.unpack("\203\0\0"))"###,
        b"ERR:user_script:4: Missing bytes in input.",
    ),
    (
        r###"return show(cmsgpack.unpack(""))"###,
        b"",
    ),
    (
        r###"return show(cmsgpack.unpack(123))"###,
        b"number:49 number:50 number:51",
    ),
    (
        r###"return show(cmsgpack.unpack({}))"###,
        b"ERR:user_script:4: bad argument #1 to 'unpack' (string expected, got table)",
    ),
    (
        r###"local s = cmsgpack.pack(1, "two", {3}) local o, t = cmsgpack.unpack_one(s, 5) return show(cmsgpack.unpack_one(s)) .. " | " .. show(cmsgpack.unpack_one(s, 1)) .. " | " .. show(o, t[1])"###,
        b"number:1 number:1 | number:5 s:two | number:-1 number:3",
    ),
    (
        r###"local s = cmsgpack.pack(1, "two", 3) return show(cmsgpack.unpack_limit(s, 2)) .. " | " .. show(cmsgpack.unpack_limit(s, 2, 5)) .. " | " .. show(cmsgpack.unpack_limit(s, 0)) .. " | " .. show(cmsgpack.unpack_limit(s, 0, 1))"###,
        b"number:5 number:1 s:two | number:-1 number:3 | number:1 s:two number:3 | number:1",
    ),
    (
        r###"return show(cmsgpack.unpack_one("\1", 2))"###,
        b"ERR:user_script:4: Start offset 2 greater than input length 1.",
    ),
    (
        r###"return show(cmsgpack.unpack_one("\1\2", -1))"###,
        b"ERR:user_script:4: Invalid request to unpack with offset of -1 and limit of 2.",
    ),
    (
        r###"return show(cmsgpack.unpack_limit("\1\2", -3))"###,
        b"ERR:user_script:4: Invalid request to unpack with offset of 0 and limit of 2.",
    ),
    (
        r###"return show(cmsgpack.unpack_limit("\1\2"))"###,
        b"ERR:user_script:4: bad argument #2 to 'unpack_limit' (number expected, got no value)",
    ),
    (
        r###"return show(cmsgpack.unpack_one())"###,
        b"ERR:user_script:4: bad argument #1 to 'unpack_one' (string expected, got no value)",
    ),
    (
        r###"return show(cmsgpack.unpack_one("\1", 1))"###,
        b"number:-1",
    ),
    (
        r###"return show(cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION)"###,
        b"s:cmsgpack s:lua-cmsgpack 0.4.0 s:Copyright (C) 2012, Salvatore Sanfilippo s:MessagePack C implementation for Lua",
    ),
    (
        r###"return show(#cmsgpack.unpack(string.rep("\145", 3000) .. "\1"))"###,
        b"number:1",
    ),
    (
        r###"local s = string.rep("\145", 5000) .. "\1" return show(cmsgpack.unpack(s))"###,
        b"ERR:user_script:4: stack overflow (in function mp_decode_to_lua_array)",
    ),
    (
        r###"local s = string.rep("\129\1", 5000) .. "\1" return show(cmsgpack.unpack(s))"###,
        b"ERR:user_script:4: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
    ),
    (
        r###"return show(select('#', cmsgpack.unpack(string.rep("\1", 7990))))"###,
        b"number:7990",
    ),
    (
        r###"return show(select('#', cmsgpack.unpack(string.rep("\1", 8010))))"###,
        b"ERR:user_script:4: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
    ),
    (
        r###"local t = {} for i = 1, 5000 do t[i] = i end return show(pcall(cmsgpack.pack, unpack(t)))"###,
        b"boolean:false s:bad argument #0 to '?' (Too many arguments for MessagePack pack.)",
    ),
    (
        r###"local t = {} for i = 1, 3000 do t[i] = i end return show(#cmsgpack.pack(unpack(t)))"###,
        b"number:8618",
    ),
    (
        r###"local a = {} local b = a for i = 1, 20 do b[1] = {} b = b[1] end return hex(cmsgpack.pack(a))"###,
        b"91919191919191919191919191919191c0",
    ),
    (
        r###"return show(cmsgpack.unpack("\202\127\192\0\0"))"###,
        b"number:nan",
    ),
    (
        r###"return hex(cmsgpack.pack(3.0, -0.0, 1e-40, 16777217, 1/3))"###,
        b"0300cb37a16c262777579cce01000001cb3fd5555555555555",
    ),
    ]);
}

#[test]
fn cjson_matches_redis() {
    check(&[
    (
        r###"return cjson.encode({1, 2, {a = 3}})"###,
        b"[1,2,{\"a\":3}]",
    ),
    (
        r###"return cjson.encode({a = {b = {c = {1, "x", true, false}}}})"###,
        b"{\"a\":{\"b\":{\"c\":[1,\"x\",true,false]}}}",
    ),
    (
        r###"return show(cjson.encode(1), cjson.encode(-1), cjson.encode(0.1), cjson.encode(1e300), cjson.encode(-0.0), cjson.encode(123456789012345), cjson.encode(1/3), cjson.encode(1e-5), cjson.encode(0.0001), cjson.encode(1e15), cjson.encode(1e14), cjson.encode(2^53), cjson.encode(-1.5e-300), cjson.encode(100), cjson.encode(5e-324))"###,
        b"s:1 s:-1 s:0.1 s:1e+300 s:-0 s:1.2345678901234e+14 s:0.33333333333333 s:1e-05 s:0.0001 s:1e+15 s:1e+14 s:9.007199254741e+15 s:-1.5e-300 s:100 s:4.9406564584125e-324",
    ),
    (
        r###"return cjson.encode(1/0)"###,
        b"ERR:user_script:4: Cannot serialise number: must not be NaN or Inf",
    ),
    (
        r###"return cjson.encode(-1/0)"###,
        b"ERR:user_script:4: Cannot serialise number: must not be NaN or Inf",
    ),
    (
        r###"return cjson.encode(0/0)"###,
        b"ERR:user_script:4: Cannot serialise number: must not be NaN or Inf",
    ),
    (
        r###"return cjson.encode({[1/0] = 1})"###,
        b"ERR:user_script:4: Cannot serialise number: must not be NaN or Inf",
    ),
    (
        r###"return show(cjson.encode_invalid_numbers(true), cjson.encode(1/0), cjson.encode(-1/0), cjson.encode(0/0), cjson.encode_invalid_numbers("null"), cjson.encode({1/0, 0/0}), cjson.encode_invalid_numbers("off"), cjson.encode_invalid_numbers())"###,
        b"boolean:true s:inf s:-inf s:nan s:null s:[null,null] boolean:false boolean:false",
    ),
    (
        r###"return cjson.encode_invalid_numbers("maybe")"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')",
    ),
    (
        r###"return show(cjson.encode("a\"b\\c/d\b\f\n\r\t\1\31\127 \128\255 \226\130\172"), cjson.encode(""), cjson.encode("\0x"))"###,
        b"s:\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f \x80\xff \xe2\x82\xac\" s:\"\" s:\"\\u0000x\"",
    ),
    (
        r###"return show(cjson.encode(nil), cjson.encode(true), cjson.encode(cjson.null), cjson.encode({}), cjson.encode({{}, {{}}}))"###,
        b"s:null s:true s:null s:{} s:[{},[{}]]",
    ),
    (
        r###"return cjson.encode(string.len)"###,
        b"ERR:user_script:4: Cannot serialise function: type not supported",
    ),
    (
        r###"return cjson.encode({f = string.len})"###,
        b"ERR:user_script:4: Cannot serialise function: type not supported",
    ),
    (
        r###"return cjson.encode({[true] = 1})"###,
        b"ERR:user_script:4: Cannot serialise boolean: table key must be a number or string",
    ),
    (
        r###"return cjson.encode()"###,
        b"ERR:user_script:4: bad argument #1 to 'encode' (expected 1 argument)",
    ),
    (
        r###"return cjson.encode(1, 2)"###,
        b"ERR:user_script:4: bad argument #1 to 'encode' (expected 1 argument)",
    ),
    (
        r###"return show(cjson.encode({[1] = 1, [2] = 2, [4] = 4}), cjson.encode({[1] = "a", [10] = "b"}), cjson.encode({[0] = 1}), cjson.encode({[1.5] = 1}), cjson.encode({[-1] = 1}), cjson.encode({[2^31] = 1}))"###,
        b"s:[1,2,null,4] s:[\"a\",null,null,null,null,null,null,null,null,\"b\"] s:{\"0\":1} s:{\"1.5\":1} s:{\"-1\":1} s:{\"2147483648\":1}",
    ),
    (
        r###"return cjson.encode({[1] = 1, [11] = 2})"###,
        b"ERR:user_script:4: Cannot serialise table: excessively sparse array",
    ),
    (
        r###"return show(cjson.encode_sparse_array(true), cjson.encode({[1] = 1, [11] = 2}), cjson.encode_sparse_array(false, 0), cjson.encode({[1] = 1, [20] = 2}))"###,
        b"boolean:true s:{\"1\":1,\"11\":2} boolean:false s:[1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,2]",
    ),
    (
        r###"return show(cjson.encode_sparse_array(nil, 3, 5))"###,
        b"boolean:false number:3 number:5",
    ),
    (
        r###"return cjson.encode_sparse_array(nil, -1)"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)",
    ),
    (
        r###"return cjson.encode_sparse_array(1, 2, 3, 4)"###,
        b"ERR:user_script:4: bad argument #4 to 'encode_sparse_array' (found too many arguments)",
    ),
    (
        r###"return cjson.encode_sparse_array("x")"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_sparse_array' (invalid option 'x')",
    ),
    (
        r###"return cjson.encode_sparse_array({})"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_sparse_array' (string expected, got table)",
    ),
    (
        r###"return show(cjson.encode_number_precision(3), cjson.encode(3.14159), cjson.encode(1234.5), cjson.encode({[0.123456] = 1}), cjson.encode_number_precision(14))"###,
        b"number:3 s:3.14 s:1.23e+03 s:{\"0.123\":1} number:14",
    ),
    (
        r###"return cjson.encode_number_precision(15)"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)",
    ),
    (
        r###"return cjson.encode_number_precision("x")"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_number_precision' (number expected, got string)",
    ),
    (
        r###"return show(cjson.encode_number_precision("5"), cjson.encode(math.pi))"###,
        b"number:5 s:3.1416",
    ),
    (
        r###"return show(cjson.encode_keep_buffer(), cjson.encode_keep_buffer(false), cjson.encode_keep_buffer("on"), cjson.encode({1}))"###,
        b"boolean:true boolean:false boolean:true s:[1]",
    ),
    (
        r###"local a = {} local b = a for i = 1, 1000 do b[1] = {} b = b[1] end return cjson.encode(a)"###,
        b"ERR:user_script:4: Cannot serialise, excessive nesting (1001)",
    ),
    (
        r###"local a = {} local b = a for i = 1, 999 do b[1] = {} b = b[1] end return show(#cjson.encode(a))"###,
        b"number:2000",
    ),
    (
        r###"local t = {} t[1] = t return cjson.encode(t)"###,
        b"ERR:user_script:4: Cannot serialise, excessive nesting (1001)",
    ),
    (
        r###"cjson.encode_max_depth(100000) local a = {} local b = a for i = 1, 20000 do b[1] = {} b = b[1] end return cjson.encode(a)"###,
        b"ERR:user_script:4: Cannot serialise, excessive nesting (7998)",
    ),
    (
        r###"cjson.encode_max_depth(100000) local a = {} local b = a for i = 1, 20000 do b.x = {} b = b.x end return cjson.encode(a)"###,
        b"ERR:user_script:4: Cannot serialise, excessive nesting (4000)",
    ),
    (
        r###"return show(cjson.encode_max_depth(), cjson.encode_max_depth(5), cjson.decode_max_depth(), cjson.decode_max_depth(7))"###,
        b"number:1000 number:5 number:1000 number:7",
    ),
    (
        r###"return cjson.encode_max_depth(0)"###,
        b"ERR:user_script:4: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)",
    ),
    (
        r###"return cjson.encode_max_depth(1, 2)"###,
        b"ERR:user_script:4: bad argument #2 to 'encode_max_depth' (found too many arguments)",
    ),
    (
        r###"return show(cjson.decode('"abc"'), cjson.decode('123'), cjson.decode(' -1.5e3 '), cjson.decode('true'), cjson.decode('false'), cjson.decode('null'))"###,
        b"s:abc number:123 number:-1500 boolean:true boolean:false null",
    ),
    (
        r###"local t = cjson.decode('{"a":[1,2,{"b":null}],"c":{"d":"e"},"f":[]}') return show(t.a[1], t.a[2], t.a[3].b, t.c.d, #t.f, type(t.f))"###,
        b"number:1 number:2 null s:e number:0 s:table",
    ),
    (
        r###"return show(cjson.decode('"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\\n\\t\\/\\\\\\"\\b\\f\\r"'))"###,
        b"s:A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n\x09/\\\"\x08\x0c\x0d",
    ),
    (
        r###"return show(hex(cjson.decode('"\\u0000"')), cjson.decode('"\128\255"'))"###,
        b"s:00 s:\x80\xff",
    ),
    (
        r###"return cjson.decode('"\\ud83d"')"###,
        b"ERR:user_script:4: Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return cjson.decode('"\\ude00"')"###,
        b"ERR:user_script:4: Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return cjson.decode('"\\ud83d\\u0041"')"###,
        b"ERR:user_script:4: Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return cjson.decode('"\\u12"')"###,
        b"ERR:user_script:4: Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return cjson.decode('"\\x"')"###,
        b"ERR:user_script:4: Expected value but found invalid escape code at character 2",
    ),
    (
        r###"return cjson.decode('"abc')"###,
        b"ERR:user_script:4: Expected value but found unexpected end of string at character 5",
    ),
    (
        r###"return cjson.decode('[1,')"###,
        b"ERR:user_script:4: Expected value but found T_END at character 4",
    ),
    (
        r###"return cjson.decode('[1 2]')"###,
        b"ERR:user_script:4: Expected comma or array end but found T_NUMBER at character 4",
    ),
    (
        r###"return cjson.decode('{"a" 1}')"###,
        b"ERR:user_script:4: Expected colon but found T_NUMBER at character 6",
    ),
    (
        r###"return cjson.decode('{1:2}')"###,
        b"ERR:user_script:4: Expected object key string but found T_NUMBER at character 2",
    ),
    (
        r###"return cjson.decode('{"a":1,}')"###,
        b"ERR:user_script:4: Expected object key string but found T_OBJ_END at character 8",
    ),
    (
        r###"return cjson.decode('{"a":1 "b"}')"###,
        b"ERR:user_script:4: Expected comma or object end but found T_STRING at character 8",
    ),
    (
        r###"return cjson.decode('[1]x')"###,
        b"ERR:user_script:4: Expected the end but found invalid token at character 4",
    ),
    (
        r###"return cjson.decode('')"###,
        b"ERR:user_script:4: Expected value but found T_END at character 1",
    ),
    (
        r###"return cjson.decode('   ')"###,
        b"ERR:user_script:4: Expected value but found T_END at character 4",
    ),
    (
        r###"return cjson.decode('@')"###,
        b"ERR:user_script:4: Expected value but found invalid token at character 1",
    ),
    (
        r###"return cjson.decode('tru')"###,
        b"ERR:user_script:4: Expected value but found invalid token at character 1",
    ),
    (
        r###"return cjson.decode(']')"###,
        b"ERR:user_script:4: Expected value but found T_ARR_END at character 1",
    ),
    (
        r###"return cjson.decode('a\0b')"###,
        b"ERR:user_script:4: JSON parser does not support UTF-16 or UTF-32",
    ),
    (
        r###"return show(#cjson.decode('[1]\0garbage'))"###,
        b"number:1",
    ),
    (
        r###"return cjson.decode('-')"###,
        b"ERR:user_script:4: Expected value but found invalid number at character 1",
    ),
    (
        r###"return show(cjson.decode('0x10'), cjson.decode('-0x1p4'), cjson.decode('inf'), cjson.decode('-Infinity'), cjson.decode('nan'), cjson.decode('+5'), cjson.decode('007'), cjson.decode('1e400'), cjson.decode('1.'), cjson.decode('[NaN]')[1], cjson.decode('0x'), cjson.decode('1e'), cjson.decode('0x1.8p1'))"###,
        b"ERR:user_script:4: Expected the end but found invalid token at character 2",
    ),
    (
        r###"return show(cjson.decode_invalid_numbers(false), pcall(cjson.decode, '0x10'))"###,
        b"boolean:false boolean:false s:Expected value but found invalid number at character 1",
    ),
    (
        r###"return show(cjson.decode_invalid_numbers(false), pcall(cjson.decode, 'inf'))"###,
        b"boolean:false boolean:false s:Expected value but found invalid token at character 1",
    ),
    (
        r###"return show(cjson.decode_invalid_numbers(false), pcall(cjson.decode, '+1'))"###,
        b"boolean:false boolean:false s:Expected value but found invalid token at character 1",
    ),
    (
        r###"return show(cjson.decode_invalid_numbers(false), pcall(cjson.decode, '01'), cjson.decode('0'), cjson.decode('-0.5'))"###,
        b"boolean:false boolean:false number:0 number:-0.5",
    ),
    (
        r###"return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))"###,
        b"ERR:user_script:4: Found too many nested data structures (1001) at character 1001",
    ),
    (
        r###"return show(#cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))"###,
        b"number:1",
    ),
    (
        r###"return cjson.decode(string.rep('{"a":', 1001))"###,
        b"ERR:user_script:4: Found too many nested data structures (1001) at character 5001",
    ),
    (
        r###"cjson.decode_max_depth(100000) return cjson.decode(string.rep('[', 10000))"###,
        b"ERR:user_script:4: Found too many nested data structures (7999) at character 7999",
    ),
    (
        r###"cjson.decode_max_depth(100000) return cjson.decode(string.rep('{"a":', 10000))"###,
        b"ERR:user_script:4: Found too many nested data structures (4000) at character 19996",
    ),
    (
        r###"return cjson.decode()"###,
        b"ERR:user_script:4: bad argument #1 to 'decode' (expected 1 argument)",
    ),
    (
        r###"return cjson.decode({})"###,
        b"ERR:user_script:4: bad argument #1 to 'decode' (string expected, got table)",
    ),
    (
        r###"return show(cjson.decode(12))"###,
        b"number:12",
    ),
    (
        r###"return show(cjson.null, type(cjson.null), cjson._NAME, cjson._VERSION, type(cjson.new), cjson.decode('null') == cjson.null)"###,
        b"null s:userdata s:cjson s:2.1.0 s:function boolean:true",
    ),
    (
        r###"local c2 = cjson.new() c2.encode_invalid_numbers("null") return show(c2.encode(1/0), pcall(cjson.encode, 1/0))"###,
        b"s:null boolean:false s:Cannot serialise number: must not be NaN or Inf",
    ),
    (
        r###"return show(cjson.encode({[1] = 1, ["1"] = 2}) == '{"1":1,"1":2}' or cjson.encode({[1] = 1, ["1"] = 2}) == '{"1":2,"1":1}')"###,
        b"boolean:true",
    ),
    (
        r###"return show(cjson.encode(cjson.decode('{"a":[1,2,3],"b":"x"}')):len())"###,
        b"number:21",
    ),
    (
        r###"return show(cjson.encode({0.1, 1e100, -3.25, 12345678901234567890}))"###,
        b"s:[0.1,1e+100,-3.25,1.2345678901235e+19]",
    ),
    (
        r###"return show(pcall(cjson.decode, '[1,'))"###,
        b"boolean:false s:Expected value but found T_END at character 4",
    ),
    (
        r###"return cjson.decode('{"a":1}', 2)"###,
        b"ERR:user_script:4: bad argument #1 to 'decode' (expected 1 argument)",
    ),
    ]);
}

#[test]
fn edge_cases_matches_redis() {
    check(&[
    (
        r###"return show(bit.tohex(0xabcdef01, -2^31), bit.tohex(0xabcdef01, 2^31), bit.tohex(0xabcdef01, -8), bit.tohex(0xabcdef01, -1), bit.tohex(-1, 2^32 + 3))"###,
        b"s:ABCDEF01 s:ABCDEF01 s:ABCDEF01 s:1 s:fff",
    ),
    (
        r###"return show(bit.band(), 1)"###,
        b"ERR:user_script:4: bad argument #1 to 'band' (number expected, got no value)",
    ),
    (
        r###"return show(bit.rol(0x80000001, 1), bit.ror(0x80000001, 1), bit.rol(5, -1), bit.ror(5, 33), bit.arshift(0x80000000, 35), bit.rshift(0x80000000, 35), bit.lshift(3, 2.5), bit.bswap(0.7))"###,
        b"number:3 number:-1073741824 number:-2147483646 number:-2147483646 number:-268435456 number:268435456 number:12 number:16777216",
    ),
    (
        r###"return show(bit.tobit(-0.0), bit.tobit(4294967295.5), bit.tobit(-4294967296.5), bit.tobit(2^53 + 1), bit.tobit(-2^63), bit.tobit(1e16), bit.bxor(), 1)"###,
        b"ERR:user_script:4: bad argument #1 to 'bxor' (number expected, got no value)",
    ),
    (
        r###"return show(cjson.encode({[1e300] = 1}), cjson.encode({[-0.0] = 1}), cjson.encode({[2^53] = 2}))"###,
        b"s:{\"1e+300\":1} s:{\"-0\":1} s:{\"9.007199254741e+15\":2}",
    ),
    (
        r###"return show(cjson.encode({1, 2, nil, 4}), cjson.encode({nil, nil, 3}), cjson.encode({[3] = 3}), cjson.encode({[11] = 1, [1] = 1, [2] = 2, [3] = 3, [4] = 4, [5] = 5, [6] = 6}))"###,
        b"s:[1,2,null,4] s:[null,null,3] s:[null,null,3] s:[1,2,3,4,5,6,null,null,null,null,1]",
    ),
    (
        r###"return show(cjson.encode_sparse_array(nil, 1), cjson.encode({1, 2, [4] = 4}))"###,
        b"boolean:false s:[1,2,null,4]",
    ),
    (
        r###"return show(cjson.encode_sparse_array(nil, 0), cjson.encode({[1000] = 1}):len())"###,
        b"boolean:false number:4998",
    ),
    (
        r###"return show(cjson.encode_sparse_array(nil, nil, 0), pcall(cjson.encode, {[2] = 1}))"###,
        b"boolean:false boolean:true s:[null,1]",
    ),
    (
        r###"return show(cjson.encode({a = {}, b = {[1] = {}}}):len(), cjson.encode({["a\0b"] = "\0"}))"###,
        b"number:17 s:{\"a\\u0000b\":\"\\u0000\"}",
    ),
    (
        r###"return show(cjson.encode(0.1 + 0.2), cjson.encode(1e21), cjson.encode(123456.789), cjson.encode(-1e-7), cjson.encode(9.99999999999999e14), cjson.encode(99999999999999.5), cjson.encode(0.000099999999999999), cjson.encode(2^-1074), cjson.encode(1.7976931348623157e308))"###,
        b"s:0.3 s:1e+21 s:123456.789 s:-1e-07 s:1e+15 s:1e+14 s:9.9999999999999e-05 s:4.9406564584125e-324 s:1.7976931348623e+308",
    ),
    (
        r###"local r = {} for p = 1, 14 do cjson.encode_number_precision(p) r[p] = cjson.encode(2/3) .. "," .. cjson.encode(123456.5) .. "," .. cjson.encode(1e-5 * 7) .. "," .. cjson.encode(9.5) .. "," .. cjson.encode(0.05) end return table.concat(r, " ")"###,
        b"0.7,1e+05,7e-05,1e+01,0.05 0.67,1.2e+05,7e-05,9.5,0.05 0.667,1.23e+05,7e-05,9.5,0.05 0.6667,1.235e+05,7e-05,9.5,0.05 0.66667,1.2346e+05,7e-05,9.5,0.05 0.666667,123456,7e-05,9.5,0.05 0.6666667,123456.5,7e-05,9.5,0.05 0.66666667,123456.5,7e-05,9.5,0.05 0.666666667,123456.5,7e-05,9.5,0.05 0.6666666667,123456.5,7e-05,9.5,0.05 0.66666666667,123456.5,7e-05,9.5,0.05 0.666666666667,123456.5,7e-05,9.5,0.05 0.6666666666667,123456.5,7e-05,9.5,0.05 0.66666666666667,123456.5,7e-05,9.5,0.05",
    ),
    (
        r###"return show(#cjson.decode(' \t\r\n[ 1 , 2 ] \n'), 1)"###,
        b"number:2 number:1",
    ),
    (
        r###"return show(cjson.decode('[1,2,3]')[3], #cjson.decode('[' .. string.rep('1,', 999) .. '1]'))"###,
        b"number:3 number:1000",
    ),
    (
        r###"return show(cjson.decode('{"a":1,"a":2}').a, cjson.decode('{"":3}')[""], next(cjson.decode('{}')))"###,
        b"number:2 number:3 nil:nil",
    ),
    (
        r###"return show(cjson.decode('"\\u00"'))"###,
        b"ERR:user_script:4: Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return show(cjson.decode('"\\uD83D\\uDE00"'), cjson.decode('"\\uFFFF"'), cjson.decode('"\\u07FF\\u0800\\u007F\\u0080"'))"###,
        b"s:\xf0\x9f\x98\x80 s:\xef\xbf\xbf s:\xdf\xbf\xe0\xa0\x80\x7f\xc2\x80",
    ),
    (
        r###"return show(cjson.decode('"\\ud800\\udc00"'), cjson.decode('"\\udbff\\udfff"'))"###,
        b"s:\xf0\x90\x80\x80 s:\xf4\x8f\xbf\xbf",
    ),
    (
        r###"return show(pcall(cjson.decode, '"\\ud83d\\'))"###,
        b"boolean:false s:Expected value but found invalid unicode escape code at character 2",
    ),
    (
        r###"return show(pcall(cjson.decode, '"\\'))"###,
        b"boolean:false s:Expected value but found invalid escape code at character 2",
    ),
    (
        r###"return show(pcall(cjson.decode, '"a\nb"'))"###,
        b"boolean:true s:a\nb",
    ),
    (
        r###"return show(cjson.decode('"a\1b"'))"###,
        b"s:a\x01b",
    ),
    (
        r###"return show(pcall(cjson.decode, '[1,2'), pcall(cjson.decode, '{"a":'), pcall(cjson.decode, '{"a"'), pcall(cjson.decode, '{'), pcall(cjson.decode, '['))"###,
        b"boolean:false boolean:false boolean:false boolean:false boolean:false s:Expected value but found T_END at character 2",
    ),
    (
        r###"return show(pcall(cjson.decode, '[,]'), pcall(cjson.decode, '[1,]'), pcall(cjson.decode, '{,}'), pcall(cjson.decode, '[1:2]'), pcall(cjson.decode, 'nul'), pcall(cjson.decode, 'falsey'))"###,
        b"boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false s:Expected the end but found invalid token at character 6",
    ),
    (
        r###"return show(pcall(cjson.decode, '1 2'), pcall(cjson.decode, '"a" "b"'), pcall(cjson.decode, '[]]'), pcall(cjson.decode, '{}}'))"###,
        b"boolean:false boolean:false boolean:false boolean:false s:Expected the end but found T_OBJ_END at character 3",
    ),
    (
        r###"return show(cjson.decode('-0'), cjson.decode('1E2'), cjson.decode('1e-2'), cjson.decode('.5'), cjson.decode('-.5e1'))"###,
        b"ERR:user_script:4: Expected value but found invalid token at character 1",
    ),
    (
        r###"return show(pcall(cjson.decode, '.5'), pcall(cjson.decode, '-'), pcall(cjson.decode, '--1'), pcall(cjson.decode, '-a'), pcall(cjson.decode, '1.2.3'))"###,
        b"boolean:false boolean:false boolean:false boolean:false boolean:false s:Expected the end but found invalid token at character 4",
    ),
    (
        r###"return show(cjson.decode('infinity'), cjson.decode('-inf'), cjson.decode('NAN'), cjson.decode('nan(123)'), cjson.decode('INFINITE'))"###,
        b"ERR:user_script:4: Expected the end but found invalid token at character 4",
    ),
    (
        r###"return show(pcall(cjson.decode, 'Infinite'))"###,
        b"boolean:false s:Expected the end but found invalid token at character 4",
    ),
    (
        r###"return show(cjson.decode('-nan'), cjson.decode('0X1F'), cjson.decode('0x.8'), cjson.decode('0x1p-2'), cjson.decode('0x1P+2'), cjson.decode('0xfp'), cjson.decode('1e+'), cjson.decode('1E-0'))"###,
        b"ERR:user_script:4: Expected the end but found invalid token at character 4",
    ),
    (
        r###"return show(pcall(cjson.decode, '0xg'), pcall(cjson.decode, '0x'), pcall(cjson.decode, '+'), pcall(cjson.decode, '+inf'), pcall(cjson.decode, 'nan('))"###,
        b"boolean:false boolean:false boolean:false boolean:true boolean:false s:Expected the end but found invalid token at character 4",
    ),
    (
        r###"return show(cjson.decode('123456789012345678901234567890'), cjson.decode('1e-400'), cjson.decode('4.9e-324'), cjson.decode('2.2250738585072011e-308'))"###,
        b"number:1.2345678901235e+29 number:0 number:4.9406564584125e-324 number:2.2250738585072e-308",
    ),
    (
        r###"return show(pcall(cjson.decode, string.rep('[', 5) .. '1' .. string.rep(']', 4)))"###,
        b"boolean:false s:Expected comma or array end but found T_END at character 11",
    ),
    (
        r###"return show(pcall(cjson.decode, '{"a":[1,{"b":2}}'))"###,
        b"boolean:false s:Expected comma or array end but found T_OBJ_END at character 16",
    ),
    (
        r###"return show(cjson.decode_max_depth(3), pcall(cjson.decode, '[[[1]]]'), pcall(cjson.decode, '[[[[1]]]]'), pcall(cjson.decode, '{"a":{"b":{"c":{}}}}'))"###,
        b"number:3 boolean:true boolean:false boolean:false s:Found too many nested data structures (4) at character 16",
    ),
    (
        r###"return show(cjson.encode_max_depth(3), pcall(cjson.encode, {{{1}}}), pcall(cjson.encode, {{{{1}}}}), pcall(cjson.encode, {a = {b = {c = {}}}}))"###,
        b"number:3 boolean:true boolean:false boolean:false s:Cannot serialise, excessive nesting (4)",
    ),
    (
        r###"return show(pcall(cjson.decode, "\0\0"), pcall(cjson.decode, "a\0"), pcall(cjson.decode, "\0"), pcall(cjson.decode, "1\0"))"###,
        b"boolean:false boolean:false boolean:false boolean:false s:JSON parser does not support UTF-16 or UTF-32",
    ),
    (
        r###"return show(pcall(cjson.encode_keep_buffer, "maybe"), pcall(cjson.decode_invalid_numbers, 1), pcall(cjson.encode_invalid_numbers, "null", 2))"###,
        b"boolean:false boolean:false boolean:false s:bad argument #2 to '?' (found too many arguments)",
    ),
    (
        r###"return show(cjson.decode_invalid_numbers("off"), cjson.decode_invalid_numbers("on"), cjson.encode_invalid_numbers("on"), cjson.encode_invalid_numbers(true), cjson.encode_invalid_numbers("null"))"###,
        b"boolean:false boolean:true boolean:true boolean:true s:null",
    ),
    (
        r###"return show(cjson.encode_max_depth(2.9), cjson.encode_max_depth("7"), pcall(cjson.encode_max_depth, 2^31), pcall(cjson.encode_max_depth, -2^31))"###,
        b"number:2 number:7 boolean:false boolean:false s:bad argument #1 to '?' (expected integer between 1 and 2147483647)",
    ),
    (
        r###"return show(cjson.encode_max_depth(2^32 + 5))"###,
        b"number:5",
    ),
    (
        r###"local c = cjson.new() return show(c.encode_max_depth(), c.null == cjson.null, c._NAME, c.encode({1}), c.new ~= nil, c.decode('[2]')[1])"###,
        b"number:1000 boolean:true s:cjson s:[1] boolean:true number:2",
    ),
    (
        r###"return show(hex(cmsgpack.pack({[1] = 1, [2] = 2, n = 3})), hex(cmsgpack.pack({[-1] = 1})), hex(cmsgpack.pack({[2^31] = 1})), hex(cmsgpack.pack({[true] = false})))"###,
        b"s:8301010202a16e03 s:81ff01 s:81ce8000000001 s:81c3c2",
    ),
    (
        r###"local m = {} for i = 1, 70000 do m["k" .. i] = i end local p = cmsgpack.pack(m) return hex(p:sub(1, 5)) .. " " .. #p"###,
        b"df00011170 697447",
    ),
    (
        r###"return show(cmsgpack.unpack("\218\0\3abc", "\219\0\0\0\2xy", "\220\0\2\1\2")) .. " " .. show(cmsgpack.unpack("\220\0\2\1\2")[2], cmsgpack.unpack("\221\0\0\0\1\7")[1], cmsgpack.unpack("\222\0\1\1\2")[1], cmsgpack.unpack("\223\0\0\0\1\161a\3").a)"###,
        b"s:abc number:2 number:7 number:2 number:3",
    ),
    (
        r###"return show(cmsgpack.unpack("\202\63\192\0\0", "\202\255\128\0\0", "\203\127\240\0\0\0\0\0\0", "\224", "\255", "\127", "\160"))"###,
        b"number:1.5",
    ),
    (
        r###"return show(cmsgpack.unpack("\196\1a"))"###,
        b"ERR:user_script:4: Bad data format in input.",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack, "\204"), pcall(cmsgpack.unpack, "\205\1"), pcall(cmsgpack.unpack, "\206\1\2\3"), pcall(cmsgpack.unpack, "\207\1"), pcall(cmsgpack.unpack, "\208"), pcall(cmsgpack.unpack, "\209\1"), pcall(cmsgpack.unpack, "\210"), pcall(cmsgpack.unpack, "\211\1\2"))"###,
        b"boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false s:Missing bytes in input.",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack, "\218\0"), pcall(cmsgpack.unpack, "\218\0\5ab"), pcall(cmsgpack.unpack, "\219\0\0\0"), pcall(cmsgpack.unpack, "\219\255\255\255\255ab"), pcall(cmsgpack.unpack, "\220\0"), pcall(cmsgpack.unpack, "\222\0\1\1"), pcall(cmsgpack.unpack, "\129"), pcall(cmsgpack.unpack, "\165ab"))"###,
        b"boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false boolean:false s:Missing bytes in input.",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack, "\199"), pcall(cmsgpack.unpack, "\212\1\1"), pcall(cmsgpack.unpack, "\1\193"), pcall(cmsgpack.unpack, "\145\193"))"###,
        b"boolean:false boolean:false boolean:false boolean:false s:Bad data format in input.",
    ),
    (
        r###"return show(cmsgpack.unpack_limit("\1\2\3", 5), cmsgpack.unpack_limit("\1\2\3", 1, 2), cmsgpack.unpack_one("\1\2\3", 3))"###,
        b"number:-1 number:-1 number:-1",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack_limit, "\1", 1.5), pcall(cmsgpack.unpack_one, "\1", "x"), pcall(cmsgpack.unpack_one, "\1", "1"), pcall(cmsgpack.unpack_one, "\1\2", 1.9))"###,
        b"boolean:true boolean:false boolean:true boolean:true number:-1 number:2",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack_limit, "\1", 1, -5), pcall(cmsgpack.unpack_one, "", 0), pcall(cmsgpack.unpack_limit, "", 0, 0))"###,
        b"boolean:false boolean:true boolean:true",
    ),
    (
        r###"return show(cmsgpack.unpack(cmsgpack.pack("a", "b"), "ignored"))"###,
        b"s:a s:b",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack_one, "\145\145"))"###,
        b"boolean:false s:Missing bytes in input.",
    ),
    (
        r###"return show(hex(cmsgpack.pack(-0.5, 3.4028234663852886e38, 3.5e38, 1e-45, 2^-149, -2^63 - 4096)))"###,
        b"s:cabf000000ca7f7fffffcb47f074f8c4d3cd7bcb3696d601ad376ab9ca00000001cbc3e0000000000002",
    ),
    (
        r###"return show(hex(struct.pack("<d>d!8<bd", -0.0, 1/0, 1, 0/0)))"###,
        b"s:0000000000000080fff00000000000000100000000000000000000000000f8ff",
    ),
    (
        r###"return show(struct.unpack("!8 b d", struct.pack("!8 b d", 1, 2.5)))"###,
        b"number:1 number:2.5 number:17",
    ),
    (
        r###"return show(struct.unpack("<i3", "\255\255\127"), struct.unpack("<I3", "\255\255\255"), struct.unpack(">h", "\128\0"))"###,
        b"number:8388607 number:16777215 number:-32768 number:3",
    ),
    (
        r###"return show(pcall(struct.unpack, "c2 c0", "12abcdefghijklmn"))"###,
        b"boolean:true s:abcdefghijkl number:15",
    ),
    (
        r###"return show(pcall(struct.unpack, "b c0", "\3ab"))"###,
        b"boolean:false s:bad argument #2 to '?' (data string too short)",
    ),
    (
        r###"return show(pcall(struct.unpack, "d c0", struct.pack("d", 2.7) .. "abcdef"))"###,
        b"boolean:true s:ab number:11",
    ),
    (
        r###"return show(pcall(struct.unpack, "d c0", struct.pack("d", -1) .. "abcdef"))"###,
        b"boolean:false s:bad argument #2 to '?' (data string too short)",
    ),
    (
        r###"return show(pcall(struct.unpack, "i", "abcd", 2^53), pcall(struct.unpack, "i", "abcd", 1.9), pcall(struct.unpack, "x", "", 1), pcall(struct.unpack, "", "", 1), pcall(struct.unpack, "", "abc", 3))"###,
        b"boolean:false boolean:true boolean:false boolean:true boolean:true number:3",
    ),
    (
        r###"return show(pcall(struct.pack, "i", 1, 2), pcall(struct.pack, "i"), pcall(struct.pack), pcall(struct.pack, 12, 3))"###,
        b"boolean:true boolean:false boolean:false boolean:false s:bad argument #1 to '?' (invalid format option '1')",
    ),
    (
        r###"return show(struct.size("!i3d"), struct.size("!4i3d"), struct.size("b!2h"), struct.size("bh!"), struct.size("i32i0"), struct.size("Ii7l"), struct.size("!1bd"), struct.size("! b !4 d"))"###,
        b"number:16 number:16 number:4 number:3 number:32 number:19 number:9 number:12",
    ),
    (
        r###"return show(hex(struct.pack("!4 i3 b i3", 1, 2, 3)), hex(struct.pack("!4 b i2 b i", 1, 2, 3, 4)))"###,
        b"s:000001000002030000 s:010002000300000004000000",
    ),
    (
        r###"return show(pcall(struct.size, "i0x!0"))"###,
        b"boolean:false s:alignment 0 is not a power of 2",
    ),
    (
        r###"return show(pcall(struct.size, "!16 b d"), pcall(struct.size, "!64 b d"), pcall(struct.size, "!9"))"###,
        b"boolean:true boolean:true boolean:false s:alignment 9 is not a power of 2",
    ),
    (
        r###"return show(pcall(struct.pack, "\200", 1))"###,
        b"boolean:false s:bad argument #1 to '?' (invalid format option '\xc8')",
    ),
    (
        r###"return show(hex(struct.pack("s\0i", "ab", 5)), hex(struct.pack("c2", "abcdef")), hex(struct.pack("c0", "")))"###,
        b"s:616200 s:6162 s:",
    ),
    (
        r###"return show(pcall(struct.pack, "c", 5), pcall(struct.pack, "s", 5), pcall(struct.pack, "s", "a\0b"))"###,
        b"boolean:true boolean:true boolean:true s:a\x00b\x00",
    ),
    (
        r###"return show(struct.unpack("s", "a\0b\0"), struct.unpack("ss", "a\0b\0"))"###,
        b"s:a s:a s:b number:5",
    ),
    (
        r###"return show(struct.unpack(">i1 i2 i3 i4 i5 i6 i7 i8", string.rep("\128", 36)))"###,
        b"number:-128 number:-32640 number:-8355712 number:-2139062144 number:-547599908736 number:-1.4018557663629e+14 number:-3.588750761889e+16 number:-9.1872019504357e+18 number:37",
    ),
    (
        r###"return show(struct.unpack(">I1 I2 I3 I4 I5 I6 I7 I8", string.rep("\128", 36)))"###,
        b"number:128 number:32896 number:8421504 number:2155905152 number:551911719040 number:1.4128940007437e+14 number:3.6170086419038e+16 number:9.2595421232738e+18 number:37",
    ),
    (
        r###"return show(hex(struct.pack(">i5i6i7", -2, 2^40, -2^47)), hex(struct.pack("<I32", 2^62)))"###,
        b"s:fffffffffe010000000000ff800000000000 s:0000000000000040000000000000000000000000000000000000000000000000",
    ),
    (
        r###"return show(pcall(struct.unpack, string.rep("b", 9000), string.rep("\1", 9000)))"###,
        b"boolean:false s:stack overflow (too many results)",
    ),
    (
        r###"return show(select('#', struct.unpack(string.rep("b", 3990), string.rep("\1", 3990))))"###,
        b"number:3991",
    ),
    (
        r###"return show(pcall(struct.unpack, string.rep("x", 9000) .. "b", string.rep("\1", 9001)))"###,
        b"boolean:true number:1 number:9002",
    ),
    (
        r###"local s = {} for i = 0, 255 do s[#s + 1] = string.char(i) end s = table.concat(s) return show(cjson.encode(s), cjson.decode(cjson.encode(s)) == s, cmsgpack.unpack(cmsgpack.pack(s)) == s)"###,
        b"s:\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#$%&'()*+,-.\\/0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\\u007f\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff\" boolean:true boolean:true",
    ),
    (
        r###"local t = {} for i = 1, 20000 do t[i] = i % 7 end local e = cjson.encode(t) return show(#e, #cjson.decode(e), #cmsgpack.unpack(cmsgpack.pack(t)))"###,
        b"number:40001 number:20000 number:20000",
    ),
    (
        r###"return show(pcall(cjson.decode, string.rep('[', 100000)))"###,
        b"boolean:false s:Found too many nested data structures (1001) at character 1001",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack, string.rep("\220\255\255", 100000)))"###,
        b"boolean:false s:stack overflow (in function mp_decode_to_lua_array)",
    ),
    (
        r###"return show(pcall(cmsgpack.unpack_limit, string.rep("\1", 9000), 8500))"###,
        b"boolean:false s:stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
    ),
    (
        r###"return show(select("#", cmsgpack.unpack_limit(string.rep("\1", 9000), 100, 8000)), (cmsgpack.unpack_limit(string.rep("\1", 9000), 100, 8000)))"###,
        b"number:101 number:8100",
    ),
    (
        r###"return show(cjson.encode({[true] = 1}) == nil)"###,
        b"ERR:user_script:4: Cannot serialise boolean: table key must be a number or string",
    ),
    (
        r###"local t = setmetatable({}, {__index = function() return 1 end}) t[1] = 5 return show(cjson.encode(t), hex(cmsgpack.pack(t)))"###,
        b"s:[5] s:9105",
    ),
    (
        r###"return show(struct.pack("i", "12"), hex(struct.pack("b", "0x10")), pcall(struct.pack, "b", "z"))"###,
        b"s:\x0c\x00\x00\x00 s:10 boolean:false s:bad argument #2 to '?' (number expected, got string)",
    ),
    ]);
}
