#include <stdlib.h>
#include "greet.h"
#include "sum.h"

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	greet(stdout, "calyx", sum_to(n), n);
	return 0;
}
