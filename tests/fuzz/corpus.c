/* SPDX-License-Identifier: MIT */
#include "corpus.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The whole file, malloc'ed (at least one byte); NULL after saying why. */
static uint8_t *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		perror(path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || n < 0 || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int replay_file(struct fuzz_replay *r, const char *path)
{
	char msg[512] = "";
	size_t len;
	uint8_t *buf = read_whole(path, &len);
	bool violated;

	if (!buf)
		return 1;
	r->ninputs++;
	violated = r->run(buf, len, msg, sizeof(msg));
	free(buf);
	r->nviolations += violated;
	if (violated && !r->expect_violation) {
		fprintf(stderr, "FAIL %s: %s\n", path, msg);
		return 1;
	}
	if (!violated && r->expect_violation) {
		fprintf(stderr, "FAIL %s: no violation reported although one was expected%s%s\n",
			path, r->context ? ", " : "", r->context ? r->context : "");
		return 1;
	}
	if (violated)
		printf("ok %s: violation reported as expected: %s\n", path, msg);
	return 0;
}

int fuzz_replay(struct fuzz_replay *r, const char *path)
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
		return replay_file(r, path);
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
		rc |= fuzz_replay(r, sub);
	}
	closedir(d);
	return rc;
}
