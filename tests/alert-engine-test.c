#include "tsq-alert-engine.h"
int main (void) { return 0; }
