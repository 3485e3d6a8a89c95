/*
 * The configuration file as a small tree (libyaml's document loader underneath): mappings
 * with scalar keys, sequences and scalars, each with its line, so that every error can name
 * the place. Duplicate keys are refused here (libyaml keeps both).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "agent.h"

static ynode *node_new(int kind, int line)
{
    ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

void ynode_free(ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        ynode_free(n->vals[i]);
    }
    free(n->keys);
    free(n->vals);
    free(n->text);
    free(n);
}

static int push(ynode *n, char *key, ynode *val)
{
    if (n->n % 8 == 0) {
        ynode **v = realloc(n->vals, (n->n + 8) * sizeof(*v));
        if (!v)
            return -1;
        n->vals = v;
        if (n->kind == Y_MAP) {
            char **k = realloc(n->keys, (n->n + 8) * sizeof(*k));
            if (!k)
                return -1;
            n->keys = k;
        }
    }
    if (n->kind == Y_MAP)
        n->keys[n->n] = key;
    n->vals[n->n++] = val;
    return 0;
}

static ynode *convert(yaml_document_t *doc, yaml_node_t *yn, const char *file, int depth,
                      char *err, size_t errlen)
{
    int line = (int)yn->start_mark.line + 1;
    if (depth > 32) {
        snprintf(err, errlen, "%s:%d: nesting too deep", file, line);
        return NULL;
    }
    if (yn->type == YAML_SCALAR_NODE) {
        ynode *n = node_new(Y_SCALAR, line);
        if (n && !(n->text = strndup((const char *)yn->data.scalar.value, yn->data.scalar.length))) {
            free(n);
            n = NULL;
        }
        if (!n)
            snprintf(err, errlen, "%s: out of memory", file);
        return n;
    }
    ynode *n = node_new(yn->type == YAML_MAPPING_NODE ? Y_MAP : Y_SEQ, line);
    if (!n) {
        snprintf(err, errlen, "%s: out of memory", file);
        return NULL;
    }
    if (yn->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = yn->data.sequence.items.start;
             it < yn->data.sequence.items.top; it++) {
            ynode *c = convert(doc, yaml_document_get_node(doc, *it), file, depth + 1, err, errlen);
            if (!c || push(n, NULL, c)) {
                ynode_free(c);
                ynode_free(n);
                return NULL;
            }
        }
        return n;
    }
    for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        int kline = (int)k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) {
            snprintf(err, errlen, "%s:%d: a key must be a plain name", file, kline);
            ynode_free(n);
            return NULL;
        }
        char *key = strndup((const char *)k->data.scalar.value, k->data.scalar.length);
        for (size_t i = 0; key && i < n->n; i++)
            if (!strcmp(n->keys[i], key)) {
                snprintf(err, errlen, "%s:%d: %s: duplicate key (first on line %d)", file, kline,
                         key, n->vals[i]->line);
                free(key);
                ynode_free(n);
                return NULL;
            }
        ynode *c = key ? convert(doc, yaml_document_get_node(doc, p->value), file, depth + 1, err,
                                 errlen)
                       : NULL;
        if (!c || push(n, key, c)) {
            if (!key)
                snprintf(err, errlen, "%s: out of memory", file);
            free(key);
            ynode_free(c);
            ynode_free(n);
            return NULL;
        }
        c->key_line = kline;
    }
    return n;
}

int yaml_load(const char *file, ynode **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        snprintf(err, errlen, "%s: out of memory", file);
        return -1;
    }
    yaml_parser_set_input_file(&parser, fp);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%d:%d: %s%s%s", file, (int)parser.problem_mark.line + 1,
                 (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML",
                 parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            *out = node_new(Y_MAP, 1); /* an empty file: every default */
            rc = *out ? 0 : -1;
        } else if (root->type != YAML_MAPPING_NODE) {
            snprintf(err, errlen, "%s:%d: the file must be a mapping of sections", file,
                     (int)root->start_mark.line + 1);
        } else {
            *out = convert(&doc, root, file, 0, err, errlen);
            rc = *out ? 0 : -1;
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}
