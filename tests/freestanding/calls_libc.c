/* SPDX-License-Identifier: MIT */
/* Negative control for the freestanding symbol check: this object needs
 * libc, so tools/check-freestanding-symbols must reject its archive. */
extern void *memset(void *s, int c, unsigned long n);
extern int puts(const char *s);
void tlbb_negative_control(char *buf);
void tlbb_negative_control(char *buf)
{
	memset(buf, 0, 16);
	puts(buf);
}
