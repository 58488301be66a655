# Turns one Lua file into a C source holding its text:
#   const char embed_NAME[]; const unsigned long embed_NAME_len;
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n"
  "const char embed_${NAME}[] = {${body}0};\n"
  "const unsigned long embed_${NAME}_len = ${n};\n")
