#include "greet.h"

void greet(FILE *out, const char *who, long total, int n)
{
	fprintf(out, "hello from %s: sum(1..%d) = %ld\n", who, n, total);
}
