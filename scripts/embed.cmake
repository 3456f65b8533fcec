# embed.cmake - writes a C file holding the bytes of a text file, so that
# the data offport ships (etc/ports.conf) is compiled into the binary.
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by scripts/embed.cmake */\n#include <stddef.h>\nextern const char ${NAME}[];\nextern const size_t ${NAME}_len;\nconst char ${NAME}[] = {${body} 0};\nconst size_t ${NAME}_len = ${bytes};\n")
