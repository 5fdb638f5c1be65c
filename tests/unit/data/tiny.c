/* A program without libc for the ELF parser tests: linked -static and
 * -static-pie -nostdlib by tests/unit/CMakeLists.txt (never run). */
static const char message[] = "tiny\n";
const char* volatile keep = message;
void _start(void) {
  for (;;) {
  }
}
