/* An inline function from a header: its rows name this file. */
static inline int from_header(int v) {
    if (v > 10)
        return v - 10;
    return v + 10;
}
