/*
 * tune_name_check(): every rule of docs/names.md.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tune_name.h"


#define CHECK(lit)  tune_name_check(lit, sizeof(lit) - 1)


static void
test_valid(void **state)
{
    (void) state;

    assert_int_equal(CHECK("demo"), TUNE_OK);
    assert_int_equal(CHECK("a"), TUNE_OK);
    assert_int_equal(CHECK("Z"), TUNE_OK);
    assert_int_equal(CHECK("0"), TUNE_OK);
    assert_int_equal(CHECK("-"), TUNE_OK);
    assert_int_equal(CHECK("_"), TUNE_OK);
    assert_int_equal(CHECK("jazz-128.mp3"), TUNE_OK);
    assert_int_equal(CHECK("ice_a.b-c"), TUNE_OK);
    assert_int_equal(CHECK("a.b.c"), TUNE_OK);
    assert_int_equal(CHECK("trailing."), TUNE_OK);
    assert_int_equal(CHECK("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz0123456789"), TUNE_OK);
}


static void
test_empty(void **state)
{
    (void) state;

    assert_int_equal(tune_name_check("", 0), TUNE_ERR_EMPTY);
    assert_int_equal(tune_name_check(NULL, 0), TUNE_ERR_EMPTY);
    /* the length rules, not the NUL, decide */
    assert_int_equal(tune_name_check("demo", 0), TUNE_ERR_EMPTY);
}


static void
test_length(void **state)
{
    char  name[TUNE_NAME_MAX + 2];

    (void) state;

    memset(name, 'a', sizeof(name));

    assert_int_equal(tune_name_check(name, TUNE_NAME_MAX - 1), TUNE_OK);
    assert_int_equal(tune_name_check(name, 128), TUNE_OK);
    assert_int_equal(tune_name_check(name, 129), TUNE_ERR_TOO_LONG);
    assert_int_equal(tune_name_check(name, TUNE_NAME_MAX + 2),
                     TUNE_ERR_TOO_LONG);

    /* too long wins over any other rule */
    name[0] = '.';
    name[5] = '/';
    assert_int_equal(tune_name_check(name, 129), TUNE_ERR_TOO_LONG);
}


static void
test_dots(void **state)
{
    (void) state;

    assert_int_equal(CHECK("."), TUNE_ERR_LEADING_DOT);
    assert_int_equal(CHECK(".hidden"), TUNE_ERR_LEADING_DOT);
    /* ".." breaks the leading-dot rule first, in docs/names.md order */
    assert_int_equal(CHECK(".."), TUNE_ERR_LEADING_DOT);
    assert_int_equal(CHECK("a..b"), TUNE_ERR_DOT_DOT);
    assert_int_equal(CHECK("a.."), TUNE_ERR_DOT_DOT);
    assert_int_equal(CHECK("a..."), TUNE_ERR_DOT_DOT);
    assert_int_equal(CHECK("a.b.c"), TUNE_OK);
}


static void
test_bad_bytes(void **state)
{
    (void) state;

    assert_int_equal(CHECK("a/b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("/demo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a%2e"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("%2e%2e"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK(" demo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("demo "), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("demo\r"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("demo\n"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("de\r\nmo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("de\tmo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("de\0mo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("demo\0"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("de\x7fmo"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("caf\xc3\xa9"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("\x80"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a\xff"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a\"b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a'b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a\\b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a?b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a#b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a:b"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK("a+b"), TUNE_ERR_BAD_CHAR);

    /* a bad byte is reported before the dot rules */
    assert_int_equal(CHECK("../x"), TUNE_ERR_BAD_CHAR);
    assert_int_equal(CHECK(".a b"), TUNE_ERR_BAD_CHAR);
}


/* Every single byte: exactly [A-Za-z0-9._-] is allowed. */
static void
test_every_byte(void **state)
{
    int   c, allowed;
    char  name[3];

    (void) state;

    for (c = 0; c < 256; c++) {
        name[0] = 'x';
        name[1] = (char) c;
        name[2] = 'y';

        allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '.' || c == '_'
                  || c == '-';

        assert_int_equal(tune_name_check(name, 3),
                         allowed ? TUNE_OK : TUNE_ERR_BAD_CHAR);
    }
}


static void
test_rc_reason(void **state)
{
    int  rc;

    (void) state;

    for (rc = TUNE_OK; rc <= TUNE_ERR_NO_SLOT; rc++) {
        assert_non_null(tune_rc_reason((tune_rc_t) rc));
        assert_string_not_equal(tune_rc_reason((tune_rc_t) rc),
                                "unknown error");
    }

    assert_string_equal(tune_rc_reason(TUNE_OK), "ok");
    assert_string_equal(tune_rc_reason((tune_rc_t) 999), "unknown error");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_rc_reason),
    };

    return cmocka_run_group_tests_name("core.name", tests, NULL, NULL);
}
