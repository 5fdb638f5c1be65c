/* A crashing guest: an invalid opcode with no IDT is a triple fault (KVM
   reports KVM_EXIT_SHUTDOWN). Expect one "mote: VM stopped: ..." line, 125. */
  .text
  .globl _start
_start:
  ud2
