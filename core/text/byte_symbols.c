#include "text/byte_symbols.h"

#include <stdbool.h>

static bool stands_for_itself(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

int32_t byte_symbol_codepoint(unsigned b)
{
    if (stands_for_itself(b))
        return (int32_t)b;
    int32_t n = 0; /* how many non-printable bytes come before b */
    for (unsigned k = 0; k < b; k++)
        n += !stands_for_itself(k);
    return 0x100 + n;
}

unsigned byte_symbol_at(unsigned i)
{
    unsigned seen = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned b = 0; b < 256; b++) {
            if (stands_for_itself(b) == (pass == 0) && seen++ == i)
                return b;
        }
    }
    return 0; /* i > 255: not reached by callers */
}
