// printf_double: floating-point formatting and parsing, which depend on the SSE/x87 state
// surviving the kernel (and, in glibc, on the CPU features it detected at start-up).
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static uint64_t bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static void formats(const char *label, double d) {
    printf("%-10s %%f=%f %%e=%e %%g=%g %%.17g=%.17g %%a=%a\n", label, d, d, d, d, d);
}

int main(void) {
    volatile double zero = 0.0;  // volatile: computed at run time, not folded by the compiler
    const double values[] = {0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, 2.0 / 3.0, 123456.789, -0.000123,
                             1e300, 1e-300, 6.02214076e23, 299792458.0, DBL_MAX, DBL_MIN,
                             4.9406564584124654e-324, 9007199254740993.0, 0.5, 1.5, 2.5};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char label[16];
        snprintf(label, sizeof label, "v%zu", i);
        formats(label, values[i]);
    }
    formats("inf", 1.0 / zero);
    formats("-inf", -1.0 / zero);
    formats("nan", zero / zero);
    formats("-0", -zero);
    printf("signbit(-0)=%d signbit(0)=%d\n", signbit(-zero) != 0, signbit(zero) != 0);

    printf("widths: [%10.3f] [%-10.3f] [%+.2e] [%010.4f] [% g] [%#g]\n", 3.14159, 3.14159,
           12345.678, -2.5, 42.0, 1.0);
    printf("precision: %.0f %.1f %.2f %.10f %.20f\n", 2.5, 0.05, 1.005, M_PI, 0.1);
    printf("long double: %Lf %.20Lg\n", (long double)1 / 3, (long double)M_PI);
    printf("float: %f %g\n", (double)1.1f, (double)FLT_MAX);

    // Arithmetic that the FPU must get exactly right.
    volatile double a = 0.1, b = 0.2;
    printf("0.1+0.2=%.17g sqrt(2)=%.17g exp(1)=%.17g sin(1)=%.17g\n", a + b, sqrt(2.0 * (a + 0.9)),
           exp(a * 10), sin(b * 5));

    // strtod round trips: %.17g must parse back to the same bits.
    int round_trips = 0;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", values[i]);
        double back = strtod(buf, NULL);
        if (bits(back) != bits(values[i])) {
            printf("FAIL round trip %s\n", buf);
            failures++;
        } else {
            round_trips++;
        }
    }
    printf("round trips: %d ok\n", round_trips);

    const char *inputs[] = {"3.14", "-0", "1e-400", "1e400", "inf", "-Infinity", "nan",
                            "0x1.8p1", "  42abc", "2.2250738585072011e-308"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *end;
        errno = 0;
        double d = strtod(inputs[i], &end);
        printf("strtod(\"%s\") = %.17g consumed=%td erange=%d\n", inputs[i], d, end - inputs[i],
               errno == ERANGE);
    }
    printf(failures ? "printf_double: FAIL\n" : "printf_double: ok\n");
    return failures ? 1 : 0;
}
