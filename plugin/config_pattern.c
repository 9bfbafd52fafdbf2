/*
 * Matching keys against the pattern entries of the configuration table
 * (plugin/config_pattern.h).
 */
#include "config_pattern.h"

#include <string.h>

#include "config.h"

int kl_config_is_pattern(const char *name)
{
    return strchr(name, '<') != NULL;
}

int kl_config_pattern_match(const char *name, const char *key, size_t *wild,
                            size_t *wlen)
{
    const char *lt = strchr(name, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    size_t pre, suf, n = strlen(key);

    if (!gt)
        return 0;
    pre = (size_t)(lt - name);
    suf = strlen(gt + 1);
    if (n <= pre + suf || strncmp(key, name, pre) != 0 ||
        strcmp(key + n - suf, gt + 1) != 0)
        return 0;
    *wild = pre;
    *wlen = n - pre - suf;
    return 1;
}

int kl_config_find_pattern(const char *key)
{
    const struct kl_cfg_def *t = kl_config_table();
    size_t w, wl, best_wl = (size_t)-1;
    int i, best = -1;

    for (i = 0; t[i].name; i++)
        if (kl_config_is_pattern(t[i].name) &&
            kl_config_pattern_match(t[i].name, key, &w, &wl) && wl < best_wl) {
            best = i;
            best_wl = wl;
        }
    return best;
}
