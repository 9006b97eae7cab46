/* SPDX-License-Identifier: MIT */
#include "walk.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

int fuzz_walk(const char *path, int (*one)(const char *file))
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return one(path);
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d))) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rc |= fuzz_walk(sub, one);
	}
	closedir(d);
	return rc;
}
