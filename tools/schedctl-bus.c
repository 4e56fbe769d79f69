/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "schedctl.h"

/* How long a call may take: a change validates the whole policy and writes
 * a file, well under a second even with thousands of VMs; a daemon that
 * takes this long is stuck. */
#define CTL_CALL_TIMEOUT_USEC (25ULL * 1000000ULL)

static const char *bus_description(const Ctl *c) {
        return c->bus_address ? c->bus_address : c->user ? "the user bus" : "the system bus";
}

int ctl_fail(int r, const char *what) {
        fprintf(stderr, "%s: %s: %s\n", program_name, what, strerror(r < 0 ? -r : r));
        return EXIT_REFUSED;
}

static int not_running(const Ctl *c, const char *why) {
        fprintf(stderr, "%s: schedd is not running (%s on %s)\n", program_name, why, bus_description(c));
        return EXIT_NOT_RUNNING;
}

/*
 * Whether `a` reads as a D-Bus address (the specification's grammar:
 * "TRANSPORT:KEY=VALUE,...", several joined by ";", values of
 * [-0-9A-Za-z_/.\\*] or %XX).  sd-bus skips an address it cannot parse and
 * then reports "connection refused", which would read as "schedd is not
 * running"; so it is checked here first.  NULL if it does, else what is wrong.
 */
static const char *bus_address_problem(const char *a) {
        if (!*a)
                return "it is empty";
        for (const char *p = a; *p;) {
                size_t transport = strcspn(p, ":;");

                if (transport == 0 || p[transport] != ':')
                        return "it has no TRANSPORT: part";
                p += transport + 1;
                while (*p && *p != ';') {
                        size_t key = strcspn(p, "=,;");

                        if (key == 0 || p[key] != '=')
                                return "a KEY=VALUE pair has no key or no '='";
                        p += key + 1;
                        for (; *p && *p != ',' && *p != ';'; p++) {
                                if (*p == '%') {
                                        if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                                                return "a '%' is not followed by two hex digits";
                                        p += 2;
                                } else if (!isalnum((unsigned char)*p) && !strchr("-_/.\\*", *p))
                                        return "a value has a character that must be written as %XX";
                        }
                        if (*p == ',')
                                p++;
                }
                if (*p == ';')
                        p++;
        }
        return NULL;
}

int ctl_connect(Ctl *c) {
        const char *problem;
        sd_bus *bus = NULL;
        int r;

        if (c->bus)
                return 0;
        if (c->bus_address && (problem = bus_address_problem(c->bus_address))) {
                fprintf(stderr,
                        "%s: --bus-address: \"%s\" is not a D-Bus address: %s (expected TRANSPORT:KEY=VALUE,..., "
                        "like unix:path=/run/dbus/system_bus_socket)\n",
                        program_name, c->bus_address, problem);
                return EXIT_USAGE;
        }
        if (c->bus_address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, c->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
                if (r < 0)
                        bus = sd_bus_unref(bus);
        } else if (c->user)
                r = sd_bus_open_user(&bus);
        else
                r = sd_bus_open_system(&bus);
        if (r == -EINVAL && c->bus_address) {
                fprintf(stderr, "%s: --bus-address: \"%s\" is not a D-Bus address\n", program_name, c->bus_address);
                return EXIT_USAGE;
        }
        if (r < 0) {
                char why[256];

                snprintf(why, sizeof(why), "cannot connect: %s", strerror(-r));
                return not_running(c, why);
        }
        c->bus = bus;
        return 0;
}

void ctl_disconnect(Ctl *c) {
        c->bus = sd_bus_flush_close_unref(c->bus);
}

int ctl_new_call(Ctl *c, const char *member, sd_bus_message **ret) {
        int r;

        r = ctl_connect(c);
        if (r != 0)
                return r;
        r = sd_bus_message_new_method_call(c->bus, ret, c->bus_name, SCHEDCTL_BUS_PATH, SCHEDCTL_IFACE_MANAGER,
                                           member);
        if (r < 0)
                return ctl_fail(r, "cannot make a bus message");
        return 0;
}

int ctl_call(Ctl *c, sd_bus_message *call, sd_bus_message **ret_reply) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r, status;

        r = ctl_connect(c);
        if (r != 0)
                return r;
        r = sd_bus_call(c->bus, call, CTL_CALL_TIMEOUT_USEC, &error, &reply);
        if (r >= 0) {
                *ret_reply = reply;
                return 0;
        }

        if (r == -ENOTCONN || r == -ECONNRESET || r == -ECONNREFUSED || r == -EPIPE)
                status = not_running(c, "the bus connection was lost");
        else if (sd_bus_error_has_names(&error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                char why[256];

                snprintf(why, sizeof(why), "nobody owns %s", c->bus_name);
                status = not_running(c, why);
        } else if (sd_bus_error_has_names(&error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT,
                                          SD_BUS_ERROR_DISCONNECTED))
                status = not_running(c, "no answer");
        else if (sd_bus_error_has_name(&error, SD_BUS_ERROR_ACCESS_DENIED)) {
                fprintf(stderr, "%s: access denied: %s\n", program_name, error.message ?: "");
                status = EXIT_ACCESS_DENIED;
        } else if (sd_bus_error_is_set(&error)) {
                fprintf(stderr, "%s: %s\n", program_name, error.message ?: error.name);
                status = EXIT_REFUSED;
        } else if (r == -ETIMEDOUT)
                status = not_running(c, "no answer");
        else
                status = ctl_fail(r, "the call failed");
        sd_bus_error_free(&error);
        return status;
}

int ctl_get_all(Ctl *c, const char *path, const char *interface, sd_bus_message **ret_reply) {
        sd_bus_message *call = NULL;
        int r;

        r = ctl_connect(c);
        if (r != 0)
                return r;
        r = sd_bus_message_new_method_call(c->bus, &call, c->bus_name, path, "org.freedesktop.DBus.Properties",
                                           "GetAll");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", interface);
        if (r < 0) {
                sd_bus_message_unref(call);
                return ctl_fail(r, "cannot make a bus message");
        }
        r = ctl_call(c, call, ret_reply);
        sd_bus_message_unref(call);
        return r;
}
