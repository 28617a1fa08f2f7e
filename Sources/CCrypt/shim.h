// libxcrypt: crypt_r and crypt_gensalt_rn (thread-safe; `import Glibc` only exposes crypt()).
#include <crypt.h>
