// Fixture for deps_test: the innermost library.
int mote_b(int x) { return x + 1; }
