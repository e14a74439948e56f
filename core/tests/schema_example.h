/*
 * The example snapshot of redis/SCHEMA.md, byte for byte: the formatter must
 * produce it and the decoder must read it, so both tests pin the document.
 */

#ifndef TUNE_SCHEMA_EXAMPLE_H
#define TUNE_SCHEMA_EXAMPLE_H

#define TUNE_SCHEMA_EXAMPLE                                                   \
    "tuneslot-snapshot\t1\n"                                                  \
    "written_ms\t1763712000123\n"                                             \
    "interval_ms\t1000\n"                                                     \
    "backend\tice-a\tup\t1763712000101\n"                                     \
    "backend\tice-b\tdown\t1763712000099\tconnect: Connection refused\n"      \
    "slot\tdemo\tice-a\tup\t3\t100\t97\t100\teu\t1763712000101\t"            \
    "http://a.example.net:8000/demo\n"                                        \
    "slot\tdemo\tice-b\tdown\t0\t0\t0\t100\teu\t1763712000099\t"             \
    "http://b.example.net:8000/demo\n"                                        \
    "end\n"

#endif /* TUNE_SCHEMA_EXAMPLE_H */
