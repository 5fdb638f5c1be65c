// div_zero: an integer division by zero must kill the program with SIGFPE (exit 136) and mote
// must report it.

// Volatile operands: the division happens at run time, and its result is stored so it cannot
// be dropped.
volatile int dividend = 7;
volatile int divisor = 0;
volatile int quotient;

__attribute__((noinline)) void do_div_zero(void) {
    quotient = dividend / divisor;
}

int main(void) {
    do_div_zero();
    return 0;  // not reached
}
