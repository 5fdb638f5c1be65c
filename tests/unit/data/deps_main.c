// Fixture for deps_test: a program that needs a library of its own.
int mote_a(int x);
int main(int argc, char** argv) {
  (void)argv;
  return mote_a(argc) == 4 ? 0 : 1;
}
