#include <ctype.h>
#include <string.h>

/* Reverse a NUL-terminated string in place. */
void reverse_string(char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char tmp = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = tmp;
    }
}

/* Count the words (runs of non-space characters) in a string. */
int count_words(const char *s) {
    int count = 0, in_word = 0;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            count++;
        }
    }
    return count;
}

/* Greatest common divisor by Euclid's algorithm. */
unsigned long gcd(unsigned long a, unsigned long b) {
    while (b != 0) {
        unsigned long t = a % b;
        a = b;
        b = t;
    }
    return a;
}
