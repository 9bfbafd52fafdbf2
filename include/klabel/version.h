/* klabel version, one place. */
#ifndef KLABEL_VERSION_H
#define KLABEL_VERSION_H
#define KL_VERSION "0.1.0"
#endif
