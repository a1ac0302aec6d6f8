/* Fixed-size ring buffer of bytes. */
#ifndef RINGBUF_H
#define RINGBUF_H

#include <stdint.h>
#include <stdbool.h>

#define RINGBUF_CAPACITY 256

struct ringbuf {
    uint8_t data[RINGBUF_CAPACITY];
    uint16_t head;
    uint16_t tail;
};

static inline bool ringbuf_empty(const struct ringbuf *rb)
{
    return rb->head == rb->tail;
}

int ringbuf_put(struct ringbuf *rb, uint8_t byte);
int ringbuf_get(struct ringbuf *rb, uint8_t *byte);

#endif
