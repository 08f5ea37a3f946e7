#include "sum.h"

long sum_to(int n)
{
	long s = 0;
	for (int i = 1; i <= n; i++)
		s += i;
	return s;
}
