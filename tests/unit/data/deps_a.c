// Fixture for deps_test: a library that needs another one.
int mote_b(int x);
int mote_a(int x) { return mote_b(x) * 2; }
