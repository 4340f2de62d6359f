/* Long double arithmetic for INCRBYFLOAT and HINCRBYFLOAT.
 *
 * Redis does these increments in C `long double` (80-bit extended precision
 * on x86-64) and prints the result with "%.17Lf" before trimming zeroes.
 * Rust has no stable extended-precision float, and doing the sum in f64
 * gives different digits ("10.5" + "0.1" is "10.6" in Redis but
 * "10.59999999999999964" through a double). This file keeps the replies
 * byte-identical by doing exactly what Redis does. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

static int parse_ld(const char *s, size_t slen, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *eptr;
    long double value;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' ||
        (size_t)(eptr - buf) != slen ||
        ((errno == ERANGE || errno == EINVAL) &&
         (value == HUGE_VAL || value == -HUGE_VAL || value == 0)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* Adds the decimal strings `a` and `b` as long doubles and writes the sum,
 * formatted as Redis formats it, into `out`. Returns the length written, or
 * -1 if `a` is not a float, -2 if `b` is not, -3 if the sum is NaN or
 * infinite, -4 if `out` is too small. */
long ferrokv_ld_add(const char *a, size_t alen, const char *b, size_t blen,
                    char *out, size_t outlen) {
    long double x, y;
    int l;
    if (!parse_ld(a, alen, &x)) return -1;
    if (!parse_ld(b, blen, &y)) return -2;
    x += y;
    if (isnan(x) || isinf(x)) return -3;
    l = snprintf(out, outlen, "%.17Lf", x);
    if (l < 0 || (size_t)l + 1 > outlen) return -4;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    return l;
}

/* Redis's getTimeoutFromObjectOrReply for a timeout in seconds: the
 * argument is read as a long double and converted to milliseconds with
 * `(long long) ceill(seconds * 1000.0)`. The rounding is upwards, so
 * 0.0001 s is 1 ms (not 0, which would mean "wait forever") and -0.0004 s
 * is 0. Converting an out-of-range long double to long long is undefined in
 * C; x86-64 (where Redis's replies were taken) yields LLONG_MIN, which Redis
 * then reports as negative, so that value is returned explicitly here.
 * Returns 0 and sets *ms, or -1 if the argument is not a float. */
int ferrokv_timeout_ms(const char *s, size_t slen, long long *ms) {
    long double seconds, t;
    if (!parse_ld(s, slen, &seconds)) return -1;
    t = ceill(seconds * 1000.0);
    if (t >= -9223372036854775808.0L && t < 9223372036854775808.0L)
        *ms = (long long)t;
    else
        *ms = (-9223372036854775807LL - 1);
    return 0;
}
