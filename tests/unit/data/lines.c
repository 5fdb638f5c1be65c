/* Source lines for the DWARF line-table test (dwarf_line_test.cc): a few
 * functions over several lines, one from an included file. */
#include <stdio.h>

#include "lines_inc.h"

static int twice(int x) {
    int y = x * 2;
    return y;
}

int sum_to(int n) {
    int s = 0;
    for (int i = 0; i < n; ++i)
        s += twice(i);
    return s;
}

int main(int argc, char **argv) {
    (void)argv;
    int v = sum_to(argc + 3);
    v += from_header(v);
    printf("%d\n", v);
    return 0;
}
