/*
 * Private to the file registry: file.c reads and polls the services file, file_write.c
 * publishes nodes into it (docs/registries.md, "file").
 */
#ifndef MOTAN_FILE_INT_H
#define MOTAN_FILE_INT_H

#include <sys/stat.h>

#include <jansson.h>

#include "registry/registry_int.h"

/* Neither read nor written past this size. */
#define MOTAN__FILE_MAX_BYTES (64u << 20)

/* ---- shared by the reader and the writer (file.c) -------------------------------------- */

/*
 * MOTAN_OK when sb is a regular file of at most MOTAN__FILE_MAX_BYTES; else errbuf says what
 * it is ("is a named pipe, not a regular file", "is N bytes, over ... 64 MiB").
 */
int motan__file_usable(const struct stat *sb, char *errbuf, size_t errlen);
/* 1 when a and b are the same version of a file (device, inode, size, mtime, ctime). */
int motan__file_same(const struct stat *a, const struct stat *b);
/*
 * The size bytes of the regular file fd (owned, NUL-terminated): MOTAN_EAGAIN when it holds
 * more (it grew meanwhile), MOTAN_EIO with errno.
 */
int motan__file_read_fd(int fd, size_t size, char **out, size_t *len);
/* The services document's shape and every node entry; errbuf names the first bad one. */
int motan__file_check(json_t *doc, char *errbuf, size_t errlen);
/*
 * One entry of services[path][group] as a node URL (owned), as a reader takes it: host:port,
 * a node URL or a rule:// URL (protocol "rule"). errbuf says what is wrong with it.
 */
int motan__file_node(const char *entry, const char *path, const char *group, motan_url **out,
                     char *errbuf, size_t errlen);

/* ---- the writer (file_write.c) ---------------------------------------------------------- */

struct event_base;
typedef struct motan__fwriter motan__fwriter;

/*
 * A writer of the services file at path (absolute; copied). written(ud) runs after every
 * rewrite it made (never from motan__fwriter_free), so the reader can look at once.
 */
int motan__fwriter_new(struct event_base *base, const char *path, void (*written)(void *ud),
                       void *ud, motan__fwriter **out);
/*
 * publish 1: node (motan2://host:port/path?group=G&...) goes into services[path][G], replacing
 * the entry of the same address; 0: every entry of that address there is taken out. Written
 * at once when the lock is free, else retried from a timer: MOTAN_OK either way (errmsg says
 * what is wrong meanwhile); MOTAN_EINVAL for a node without a host:port or path.
 */
int motan__fwriter_set(motan__fwriter *w, const motan_url *node, int publish);
/* "" or what keeps the writer from publishing (it is retrying). */
const char *motan__fwriter_errmsg(const motan__fwriter *w);
/*
 * withdraw: first takes out what it published (waiting at most 100 ms for the lock). No
 * callback runs once it returns. NULL is a no-op.
 */
void motan__fwriter_free(motan__fwriter *w, int withdraw);

#endif
