/* Private to lib/client. */
#ifndef MOTAN_CLIENT_INT_H
#define MOTAN_CLIENT_INT_H

#include <pthread.h>

#include <motan/client.h>

#include "core/core_int.h"

struct motan_config {
    motan_url *url;
};

/* Validates one parameter (key without the "<method>." prefix). */
int motan__config_check(const char *key, const char *value, int strict, char *errbuf,
                        size_t errlen);
/* Validates every parameter of a client URL (unknown keys are allowed there). */
int motan__config_check_url(const motan_url *u, char *errbuf, size_t errlen);

/* A finished call waiting in the pull queue. */
typedef struct motan__done {
    motan_response *resp;
    uint64_t tag;
    struct motan__done *next;
} motan__done;

/* A registry subscription for one group (own group or one named by a rule). */
typedef struct motan__sub {
    motan_client *client;
    char *group;
    motan_url *service;
    struct motan__sub *next;
} motan__sub;

struct motan_client {
    motan_loop *loop;
    int own_loop;
    motan_url *url;      /* the configuration */
    char *service;       /* path */
    motan_url *reg_url;  /* registry URL */
    motan_registry *registry;
    motan_cluster *cluster;
    motan__sub *subs;    /* own group first */
    /* pull queue */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    motan__done *qhead, *qtail;
    int qfd;
    int closing;
};

#endif
