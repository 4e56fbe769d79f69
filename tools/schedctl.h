/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * schedctl's parts:
 *   schedctl.c         main, options, the verb table, validate
 *   schedctl-bus.c     the connection to schedd and calls, errors as exit statuses
 *   schedctl-output.c  aligned tables (colour on a terminal) and JSON
 *   schedctl-verbs.c   the verbs that talk to schedd
 *
 * Verbs return the exit status.  Exit statuses (documented in --help):
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#define EXIT_REFUSED       1 /* schedd refused (an invalid policy, no such VM) or failed */
#define EXIT_USAGE         2 /* a bad command line */
#define EXIT_NOT_RUNNING   3 /* schedd is not running, or the bus is out of reach */
#define EXIT_ACCESS_DENIED 4 /* the change needs root or CAP_SYS_ADMIN */

#define SCHEDCTL_BUS_NAME      "org.schedd.Scheduler1"
#define SCHEDCTL_BUS_PATH      "/org/schedd/Scheduler1"
#define SCHEDCTL_IFACE_MANAGER "org.schedd.Scheduler1.Manager"
#define SCHEDCTL_IFACE_VM      "org.schedd.Scheduler1.VM"

typedef struct Ctl {
        /* options */
        bool json;
        bool legend; /* table headers (--no-legend: off) */
        bool runtime;
        bool user;
        const char *bus_address;
        const char *bus_name;
        const char *override_dir; /* validate */
        uint64_t iterations;      /* top; 0: until interrupted */

        /* state */
        sd_bus *bus;
        bool colour;
} Ctl;

extern const char *program_name;

/* schedctl.c */

/* Prints "schedctl VERB: what" and a hint; returns EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* schedctl-verbs.c: argv[0] is the verb, argv[1..] its arguments. */

int verb_list(Ctl *c, int argc, char *argv[]);
int verb_status(Ctl *c, int argc, char *argv[]);
int verb_get(Ctl *c, int argc, char *argv[]);
int verb_set(Ctl *c, int argc, char *argv[]);
int verb_reset(Ctl *c, int argc, char *argv[]);
int verb_reload(Ctl *c, int argc, char *argv[]);
int verb_move(Ctl *c, int argc, char *argv[]);
int verb_top(Ctl *c, int argc, char *argv[]);

/* schedctl-bus.c */

/* Connects (once).  0, or an exit status with the error printed. */
int ctl_connect(Ctl *c);
void ctl_disconnect(Ctl *c);
/* Sends `call` to schedd and waits for the reply.  0 and *ret_reply, or an
 * exit status with the error printed ("schedctl: MESSAGE"). */
int ctl_call(Ctl *c, sd_bus_message *call, sd_bus_message **ret_reply);
/* A new method call on the manager object.  0, or an exit status. */
int ctl_new_call(Ctl *c, const char *member, sd_bus_message **ret);
/* Prints "schedctl: what" for a failure of the client itself; returns EXIT_REFUSED. */
int ctl_fail(int r, const char *what);

/* The properties of one object (GetAll), as a{sv}, positioned at its start. */
int ctl_get_all(Ctl *c, const char *path, const char *interface, sd_bus_message **ret_reply);

/* schedctl-output.c */

typedef enum Colour {
        COLOUR_NONE,
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_YELLOW,
        COLOUR_BOLD,
} Colour;

/* True when stdout is a terminal that takes colours (and NO_COLOR is unset). */
bool output_wants_colour(void);

typedef struct Table Table;

/* A table with these column headers (NULL-terminated).  NULL on OOM. */
Table *table_new(const char *const *headers);
Table *table_free(Table *t);
/* Columns whose cells are right-aligned (numbers). */
void table_align_right(Table *t, size_t column);
/* Appends a cell to the current row (a new row after the last column). */
int table_add(Table *t, const char *text, Colour colour);
int table_addf(Table *t, Colour colour, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t table_rows(const Table *t);
/* Prints the table: columns aligned, two spaces apart; the header (bold on
 * a colour terminal) with `legend`. */
void table_print(const Table *t, FILE *f, bool legend, bool colour);

/* JSON: a string with its quotes and escapes. */
void json_string(FILE *f, const char *s);
