/* tailgate entry point (placeholder until the service is wired). */
#include <stdio.h>

#include "tg_version.h"

int main(void) {
  printf("tailgate %s\n", TG_VERSION);
  return 0;
}
