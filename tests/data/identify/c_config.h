#pragma once
#include <stdio.h>
#include <stdlib.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct config {
    char *path;
    enum log_level level;
    unsigned int workers;
};

int config_load(struct config *cfg, const char *path);
void config_print(FILE *out, const struct config *cfg);
