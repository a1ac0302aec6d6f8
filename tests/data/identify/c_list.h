#ifndef LIST_H
#define LIST_H

#include <stddef.h>

typedef struct node {
    int value;
    struct node *next;
} node_t;

node_t *list_push(node_t *head, int value);
size_t list_length(const node_t *head);
void list_free(node_t *head);

#endif /* LIST_H */
