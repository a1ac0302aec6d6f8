#ifndef HASH_H
#define HASH_H
#include <string.h>

/* djb2 string hash */
static unsigned long hash_string(const char *s)
{
    unsigned long h = 5381;
    int c;
    while ((c = *s++))
        h = ((h << 5) + h) + c;
    return h;
}

extern void *hash_table_new(size_t buckets);
#endif
