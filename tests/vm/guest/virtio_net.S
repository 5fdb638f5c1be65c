/* The virtio_net test kernel (identity-linked): drives the monitor's
   virtio-net device at slot 0 (abi/boot_info.h: 0xfeb00000) the way a
   virtio 1.x driver does (virtio 1.1, 3.1.1 and 4.2.3): checks the
   transport, negotiates VERSION_1 and MAC, reads the MAC's first byte from
   the configuration space (a 1-byte access), sets up the transmit queue
   (queue 1) with 8 entries, posts one frame (12-byte zero header, then the
   frame's bytes), notifies, and checks the device returned it in the used
   ring. Then Exit(42). Each failed check exits with its own status:
   3 no "virt" magic, 4 not a network device, 5 FEATURES_OK refused,
   6 wrong MAC byte, 7 the frame did not come back.
   Only mov/cmp/jcc/in/out (hypercall.inc): every MMIO access is a mov. */
#define KERNEL_OFFSET 0
#include "hypercall.inc"

#define VIRTIO_BASE 0xfeb00000
#define R_MAGIC 0x000
#define R_DEVICE_ID 0x008
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_QUEUE_DESC_LO 0x080
#define R_QUEUE_DESC_HI 0x084
#define R_QUEUE_DRIVER_LO 0x090
#define R_QUEUE_DRIVER_HI 0x094
#define R_QUEUE_DEVICE_LO 0x0a0
#define R_QUEUE_DEVICE_HI 0x0a4
#define R_CONFIG 0x100

  .data
  .balign 4096
ring_desc:                         /* 8 descriptors of 16 bytes */
  .quad frame                      /* addr (identity-linked: physical) */
  .long frame_end - frame          /* len */
  .short 0, 0                      /* flags, next */
  .fill 7 * 16, 1, 0
ring_avail:                        /* flags, idx, ring[8], used_event */
  .short 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0
  .balign 4
ring_used:                         /* flags, idx, ring[8] of {id, len}, avail_event */
  .fill 6 + 8 * 8, 1, 0
  .balign 16
frame:
  .fill 12, 1, 0                   /* struct virtio_net_hdr_v1: all zero */
  .ascii "mote virtio-net frame from the test kernel"
frame_end:
  .balign 8
exit_call:
  .long 0, 0

  .text
  .globl _start
_start:
  mov $VIRTIO_BASE, %ebx           /* zero-extended: the 4th GiB, identity-mapped */
  cmpl $0x74726976, R_MAGIC(%rbx)
  jne bad_magic
  cmpl $1, R_DEVICE_ID(%rbx)
  jne bad_device
  movl $0, R_STATUS(%rbx)          /* reset */
  movl $1, R_STATUS(%rbx)          /* ACKNOWLEDGE */
  movl $3, R_STATUS(%rbx)          /* DRIVER */
  movl $1, R_DRIVER_FEATURES_SEL(%rbx)
  movl $1, R_DRIVER_FEATURES(%rbx) /* VERSION_1 (bit 32) */
  movl $0, R_DRIVER_FEATURES_SEL(%rbx)
  movl $0x20, R_DRIVER_FEATURES(%rbx)  /* MAC */
  movl $0xb, R_STATUS(%rbx)        /* FEATURES_OK */
  cmpl $0xb, R_STATUS(%rbx)        /* kept: FEATURES_OK accepted */
  jne bad_features
  movzbl R_CONFIG(%rbx), %eax      /* mac[0], one byte */
  cmp $0x52, %eax
  jne bad_mac

  movl $1, R_QUEUE_SEL(%rbx)       /* the transmit queue */
  movl $8, R_QUEUE_NUM(%rbx)
  mov $ring_desc, %eax
  mov %eax, R_QUEUE_DESC_LO(%rbx)
  movl $0, R_QUEUE_DESC_HI(%rbx)
  mov $ring_avail, %eax
  mov %eax, R_QUEUE_DRIVER_LO(%rbx)
  movl $0, R_QUEUE_DRIVER_HI(%rbx)
  mov $ring_used, %eax
  mov %eax, R_QUEUE_DEVICE_LO(%rbx)
  movl $0, R_QUEUE_DEVICE_HI(%rbx)
  movl $1, R_QUEUE_READY(%rbx)
  movl $0xf, R_STATUS(%rbx)        /* DRIVER_OK: the posted frame goes out */
  movl $1, R_QUEUE_NOTIFY(%rbx)    /* and a notification (nothing more to send) */
  cmpw $1, ring_used + 2(%rip)     /* used idx */
  jne bad_used
  cmpl $0, ring_used + 4(%rip)     /* used[0].id: descriptor 0 */
  jne bad_used
  EXIT_WITH 42, exit_call

bad_magic:
  EXIT_WITH 3, exit_call
bad_device:
  EXIT_WITH 4, exit_call
bad_features:
  EXIT_WITH 5, exit_call
bad_mac:
  EXIT_WITH 6, exit_call
bad_used:
  EXIT_WITH 7, exit_call
