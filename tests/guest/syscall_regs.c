// syscall_regs: Linux preserves every register across `syscall` except rax
// (the result), rcx and r11, vector registers included. The program checks
// that on the same call site many times, so under mote it covers both the SIGSYS path
// (first uses) and the rewritten direct-call path (after). Also glibc's
// generic syscall() in a loop, results and errno included.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// Register images, reached RIP-relative so no register is needed to hold a
// pointer across the syscall.
#define ASM_VISIBLE __attribute__((used, visibility("hidden")))
ASM_VISIBLE uint64_t g_in[12], g_out[12], g_rbp_save;
ASM_VISIBLE double g_x0, g_x0_out;

// One getpid through the 7-byte `mov $39,%eax; syscall` site, with known
// values in every register Linux preserves; returns how many changed.
static int one_call(uint64_t seed, long* result) {
  for (int i = 0; i < 12; i++) g_in[i] = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0x1111;
  g_x0 = (double)seed + 0.25;
  long rax;
  __asm__ volatile(
      "mov %%rbp, g_rbp_save(%%rip)\n"
      "mov g_in+0(%%rip), %%rbx\n"
      "mov g_in+8(%%rip), %%rbp\n"
      "mov g_in+16(%%rip), %%rdi\n"
      "mov g_in+24(%%rip), %%rsi\n"
      "mov g_in+32(%%rip), %%rdx\n"
      "mov g_in+40(%%rip), %%r8\n"
      "mov g_in+48(%%rip), %%r9\n"
      "mov g_in+56(%%rip), %%r10\n"
      "mov g_in+64(%%rip), %%r12\n"
      "mov g_in+72(%%rip), %%r13\n"
      "mov g_in+80(%%rip), %%r14\n"
      "mov g_in+88(%%rip), %%r15\n"
      "movq g_x0(%%rip), %%xmm0\n"
      "mov $39, %%eax\n"             // __NR_getpid: the site mote rewrites
      "syscall\n"
      "mov %%rbx, g_out+0(%%rip)\n"
      "mov %%rbp, g_out+8(%%rip)\n"
      "mov %%rdi, g_out+16(%%rip)\n"
      "mov %%rsi, g_out+24(%%rip)\n"
      "mov %%rdx, g_out+32(%%rip)\n"
      "mov %%r8, g_out+40(%%rip)\n"
      "mov %%r9, g_out+48(%%rip)\n"
      "mov %%r10, g_out+56(%%rip)\n"
      "mov %%r12, g_out+64(%%rip)\n"
      "mov %%r13, g_out+72(%%rip)\n"
      "mov %%r14, g_out+80(%%rip)\n"
      "mov %%r15, g_out+88(%%rip)\n"
      "movq %%xmm0, g_x0_out(%%rip)\n"
      "mov g_rbp_save(%%rip), %%rbp\n"
      : "=a"(rax)
      :
      : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
        "r15", "xmm0", "memory");
  *result = rax;
  int changed = 0;
  for (int i = 0; i < 12; i++) changed += g_in[i] != g_out[i];
  changed += g_x0_out != g_x0;
  return changed;
}

int main(void) {
  int bad = 0;
  long first = -1;
  for (int i = 0; i < 200; i++) {
    long r;
    int changed = one_call((uint64_t)i + 1, &r);
    if (i == 0) first = r;
    if (changed || r != first || r != getpid()) {
      printf("call %d: %d registers changed, result %ld (first %ld)\n", i, changed, r, first);
      bad++;
      if (bad > 5) break;
    }
  }
  printf("raw syscall site preserves registers: %s\n", bad ? "FAIL" : "ok");

  int sbad = 0;
  for (int i = 0; i < 200; i++) {
    errno = 0;
    long r = syscall(SYS_close, -1 - i);  // through glibc's syscall()
    if (r != -1 || errno != EBADF) sbad++;
    if (syscall(SYS_getpid) != getpid()) sbad++;
  }
  printf("syscall() results and errno: %s\n", sbad ? "FAIL" : "ok");
  return bad || sbad;
}
