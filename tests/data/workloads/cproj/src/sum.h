#ifndef SUM_H
#define SUM_H
long sum_to(int n);
#endif
