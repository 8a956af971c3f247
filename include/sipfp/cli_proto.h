/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The protocol between `sipfpctl` and `sipfp-control`, over a Unix stream
 * socket (mode 0600, root only).  sipfpctl does not link DPDK.
 *
 * Request: the client writes one command line, optionally followed by
 * payload lines, then shuts down its writing side:
 *
 *     SIPFP/1 <TAB> word <TAB> word ... LF
 *     payload line LF            (e.g. `user import`: htdigest lines;
 *     ...                         `user add`: the password)
 *
 * Response: the server writes a status line, then for OK a table
 * (a header row and data rows), tab-separated, and closes:
 *
 *     OK LF | ERR <TAB> message LF
 *     col1 <TAB> col2 ... LF
 *     val1 <TAB> val2 ... LF
 *
 * Fields never contain TAB or LF (the server replaces them by spaces).
 * The client turns the table into aligned text, or JSON with -j.
 */
#ifndef SIPFP_CLI_PROTO_H
#define SIPFP_CLI_PROTO_H

#define SFP_CLI_MAGIC        "SIPFP/1"
#define SFP_CLI_SOCKET       "/run/sipfp/sipfpctl.sock"
#define SFP_CLI_MAX_REQUEST  (16u << 20) /* bytes, request with payload */
#define SFP_CLI_MAX_WORDS    16

#endif
