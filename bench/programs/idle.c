/* An idle program for the density figure: prints "idle ready" and waits for a
 * signal (pause), using no CPU, as an idle service would. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("idle ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
