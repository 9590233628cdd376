// lab 5
#include <stdio.h>
#include <stdlib.h>
#define LIMIT 2000
static int cmp(const void *p, const void *q)
{
  int u = *(const int *)p;
  int v = *(const int *)q;
  return (u > v) - (u < v);
}
static double average(const int *marks, int count)
{
  long total = 0;
  for (int k = 0; k < count; k++)
  {
    total += marks[k];
  }
  return count > 0 ? (double)total / count : 0.0;
}
static double middle(int *marks, int count)
{
  qsort(marks, count, sizeof(int), cmp);
  if (count % 2 == 1)
  {
    return marks[count / 2];
  }
  return (marks[count / 2 - 1] + marks[count / 2]) / 2.0;
}
static void bars(const int *marks, int count)
{
  int bins[10] = {0};
  for (int k = 0; k < count; k++)
  {
    int idx = marks[k] / 10;
    if (idx > 9)
    {
      idx = 9;
    }
    bins[idx]++;
  }
  for (int idx = 0; idx < 10; idx++)
  {
    printf("%3d-%3d: ", idx * 10, idx == 9 ? 100 : idx * 10 + 9);
    for (int m = 0; m < bins[idx]; m++)
    {
      putchar('#');
    }
    putchar('\n');
  }
}
int main(void)
{
  int marks[LIMIT];
  int count = 0;
  int x;
  while (count < LIMIT && scanf("%d", &x) == 1)
  {
    if (x < 0 || x > 100)
    {
      fprintf(stderr, "bad mark %d\n", x);
      continue;
    }
    marks[count++] = x;
  }
  if (count == 0)
  {
    printf("nothing read\n");
    return 1;
  }
  int lo = marks[0], hi = marks[0];
  for (int k = 1; k < count; k++)
  {
    if (marks[k] < lo) lo = marks[k];
    if (marks[k] > hi) hi = marks[k];
  }
  printf("count: %d\n", count);
  printf("mean: %.2f\n", average(marks, count));
  printf("median: %.1f\n", middle(marks, count));
  printf("min: %d max: %d\n", lo, hi);
  bars(marks, count);
  return 0;
}
