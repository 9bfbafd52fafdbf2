/*
 * The static table of transports: name -> ops. Adding a transport means
 * adding one line here; nothing is registered at run time.
 */
#include <string.h>

#include "klabel/transport.h"

static const struct kl_transport_ops *const transports[] = {
    &kl_transport_kafka,
    &kl_transport_file,
    NULL};

const struct kl_transport_ops *kl_transport_find(const char *name)
{
    size_t i;

    if (!name)
        return NULL;
    for (i = 0; transports[i]; i++)
        if (!strcmp(transports[i]->name, name))
            return transports[i];
    return NULL;
}

const struct kl_transport_ops *const *kl_transport_list(void)
{
    return transports;
}
