// misc_calls: prctl names, memfd_create, getrusage, times, getgroups, the scheduler
// queries, mincore and msync -- the small calls runtimes make. Differential.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <unistd.h>
#include <string.h>
#include <sched.h>
int main(){ char n[16]={0}; prctl(PR_SET_NAME,"worker",0,0,0); prctl(PR_GET_NAME,n,0,0,0); printf("name %s\n",n);
 int fd=memfd_create("x",MFD_CLOEXEC); write(fd,"hello",5); char b[8]={0}; pread(fd,b,5,0); printf("memfd %s\n",b);
 struct rusage ru; printf("getrusage %d\n", getrusage(RUSAGE_SELF,&ru));
 struct tms t; printf("times ok %d\n", times(&t)!=(clock_t)-1);
 printf("groups %d\n", getgroups(0,NULL)); printf("sched %d\n", sched_getscheduler(0));
 void*p=mmap(0,8192,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); unsigned char v[2]; printf("mincore %d msync %d\n", mincore(p,8192,v), msync(p,8192,MS_SYNC));
 return 0;}
