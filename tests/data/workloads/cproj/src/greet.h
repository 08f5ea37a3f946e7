#ifndef GREET_H
#define GREET_H
#include <stdio.h>
void greet(FILE *out, const char *who, long total, int n);
#endif
