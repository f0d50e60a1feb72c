/* alerts-fault-test.c: the fault test against the real agent binary. A burst of 1,000
 * alerts (1,000 monitors whose pages all go down at once) is being delivered to a webhook
 * receiver while the agent is killed with SIGKILL several times at random moments and restarted.
 * In the end every alert is delivered at least once, none is lost, repeated deliveries of one
 * alert carry one idempotency id, and monitors that never went down get nothing.
 *
 * The receiver and config helpers are copied from alerts-test.c (tests are separate
 * executables). Grouping is per monitor (the default group_by), so each notification carries one
 * alert: the test asserts that every request is an "alert.triggered" (a grouped notification
 * would be "alert.grouped" and list at most 40 of its alerts, docs/templates.md). The receiver
 * reads the alerts of a payload from "alerts" (falling back to "alert"). */
#include "tsq-config.h"

#include <signal.h>
#include <string.h>

#include <libsoup/soup.h>

#include "tsq-json-util.h"
#include "tsq-signature.h"
#include "tsq-test-agent.h"
#include "tsq-test-server.h"

#define SECRET "fault-hook-secret-456"
#define WAIT_S 150
#define BURST 1000
#define QUIET 20 /* monitors that stay up */
#define KILLS 3

/* ---- a webhook receiver on loopback, in its own thread ---- */

typedef struct
{
  char *delivery;    /* X-TechScanIQ-Delivery: the idempotency id */
  char *event;       /* "alert.triggered", ... */
  GPtrArray *alerts; /* "monitor-name\nalert-id" of every alert in the payload */
  guint status;      /* what we answered */
} Request;

typedef struct
{
  GMutex lock;
  TsqTestServer *server; /* the receiver is a handler on a test server thread */
  guint16 port;
  GPtrArray *requests;
  guint bad_signatures;
  guint bad_payloads;
} Receiver;

static void
request_free (Request *r)
{
  g_free (r->delivery);
  g_free (r->event);
  g_ptr_array_unref (r->alerts);
  g_free (r);
}

static void
add_alert (Request *r, JsonObject *alert)
{
  JsonObject *m = alert ? tsq_json_get_object (alert, "monitor") : NULL;

  if (m == NULL)
    return;
  g_ptr_array_add (r->alerts, g_strdup_printf ("%s\n%s", tsq_json_get_string (m, "name", ""),
                                               tsq_json_get_string (alert, "id", "")));
}

static void
on_hook (SoupServer *server,
         SoupServerMessage *msg,
         const char *path,
         GHashTable *query,
         gpointer user_data)
{
  Receiver *rx = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  const char *sig = soup_message_headers_get_one (headers, "X-TechScanIQ-Signature");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  Request *r = g_new0 (Request, 1);
  JsonObject *root = NULL;
  JsonArray *list;

  r->alerts = g_ptr_array_new_with_free_func (g_free);
  r->delivery = g_strdup (soup_message_headers_get_one (headers, "X-TechScanIQ-Delivery"));
  if (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                  NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));
  r->event = g_strdup (root ? tsq_json_get_string (root, "event", "?") : "?");
  if (root)
    {
      /* "alerts" lists every alert of the notification (a single one is also "alert"). */
      list = tsq_json_get_array (root, "alerts");
      if (list == NULL || json_array_get_length (list) == 0)
        add_alert (r, tsq_json_get_object (root, "alert"));
      for (guint i = 0; list && i < json_array_get_length (list); i++)
        if (JSON_NODE_HOLDS_OBJECT (json_array_get_element (list, i)))
          add_alert (r, json_array_get_object_element (list, i));
    }

  g_mutex_lock (&rx->lock);
  if (root == NULL || r->alerts->len == 0)
    rx->bad_payloads++;
  if (sig == NULL
      || !tsq_signature_verify (SECRET, sig, body, g_get_real_time () / G_USEC_PER_SEC, 300,
                                &error))
    {
      rx->bad_signatures++;
      r->status = 401;
    }
  else
    r->status = 200;
  g_ptr_array_add (rx->requests, r);
  soup_server_message_set_status (msg, r->status, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
  g_mutex_unlock (&rx->lock);
}

static Receiver *
receiver_new (void)
{
  Receiver *rx = g_new0 (Receiver, 1);

  g_mutex_init (&rx->lock);
  rx->requests = g_ptr_array_new_with_free_func ((GDestroyNotify)request_free);
  rx->server = tsq_test_server_new ();
  tsq_test_server_add_handler (rx->server, "/hook", on_hook, rx);
  rx->port = tsq_test_server_get_port (rx->server);
  return rx;
}

static void
receiver_free (Receiver *rx)
{
  /* Stops the server thread first: no handler runs after this. */
  tsq_test_server_free (rx->server);
  g_ptr_array_unref (rx->requests);
  g_mutex_clear (&rx->lock);
  g_free (rx);
}

static guint
count_requests (Receiver *rx)
{
  guint n;

  g_mutex_lock (&rx->lock);
  n = rx->requests->len;
  g_mutex_unlock (&rx->lock);
  return n;
}

/* Per monitor name: the distinct idempotency ids and the distinct alert ids of the triggered
 * notifications that carried one of its alerts, and the monitors with an accepted one. */
static void
per_monitor (Receiver *rx, GHashTable *delivery_ids, GHashTable *alert_ids, GHashTable *delivered)
{
  g_mutex_lock (&rx->lock);
  for (guint i = 0; i < rx->requests->len; i++)
    {
      Request *r = g_ptr_array_index (rx->requests, i);

      for (guint j = 0; j < r->alerts->len; j++)
        {
          g_auto (GStrv) parts = g_strsplit (g_ptr_array_index (r->alerts, j), "\n", 2);
          GHashTable *set;

          if (g_strcmp0 (r->event, "alert.triggered") != 0
              && g_strcmp0 (r->event, "alert.grouped") != 0)
            continue;
          set = g_hash_table_lookup (delivery_ids, parts[0]);
          if (set == NULL)
            {
              set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
              g_hash_table_insert (delivery_ids, g_strdup (parts[0]), set);
            }
          g_hash_table_add (set, g_strdup (r->delivery ? r->delivery : ""));
          set = g_hash_table_lookup (alert_ids, parts[0]);
          if (set == NULL)
            {
              set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
              g_hash_table_insert (alert_ids, g_strdup (parts[0]), set);
            }
          g_hash_table_add (set, g_strdup (parts[1] ? parts[1] : ""));
          if (r->status == 200)
            g_hash_table_add (delivered, g_strdup (parts[0]));
        }
    }
  g_mutex_unlock (&rx->lock);
}

static GHashTable *
set_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify)g_hash_table_unref);
}

static guint
delivered_monitors (Receiver *rx)
{
  g_autoptr (GHashTable) delivery_ids = set_table_new ();
  g_autoptr (GHashTable) alert_ids = set_table_new ();
  g_autoptr (GHashTable) delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  per_monitor (rx, delivery_ids, alert_ids, delivered);
  return g_hash_table_size (delivered);
}

/* ---- the agent ---- */

typedef struct
{
  char *dir;
  char *db;
  char *conf;
  TsqTestServer *site;
  Receiver *rx;
  GSubprocess *agent;
} Fixture;

static void
print_agent_stderr (Fixture *f)
{
  g_autofree char *err_path = g_build_filename (f->dir, "agent.err", NULL);
  g_autofree char *text = NULL;

  g_file_get_contents (err_path, &text, NULL, NULL);
  /* The tail is what matters; the whole log of a burst is long. */
  if (text && strlen (text) > 4000)
    g_printerr ("agent stderr (tail):\n%s\n", text + strlen (text) - 4000);
  else
    g_printerr ("agent stderr:\n%s\n", text ? text : "");
}

/* Polls cond until it holds or WAIT_S pass (generous: the machine is shared). */
#define WAIT_UNTIL(cond)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 deadline_ = g_get_monotonic_time () + (gint64)WAIT_S * G_USEC_PER_SEC;                  \
    while (!(cond) && g_get_monotonic_time () < deadline_)                                         \
      g_usleep (100 * 1000);                                                                       \
    if (!(cond))                                                                                   \
      print_agent_stderr (f);                                                                      \
    g_assert_true (cond);                                                                          \
  }                                                                                                \
  G_STMT_END

static void
write_config (Fixture *f)
{
  /* group_wait 0: each alert is flushed on the next tick; lease 5 s: rows claimed by a killed
   * agent come back 5 s after the claim. */
  g_autofree char *text
    = g_strdup_printf ("[alerts]\n"
                       "group_wait=0\n"
                       "group_interval=1\n"
                       "retry_base=0.3\n"
                       "retry_cap=1\n"
                       "poll_interval=1\n"
                       "lease=5\n"
                       "rules=[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},"
                       "\"severity\":\"critical\",\"channels\":[\"hook\"]}]\n"
                       "[channel hook]\n"
                       "type=webhook\n"
                       "url=http://127.0.0.1:%u/hook\n"
                       "secret=" SECRET "\n"
                       "rate_per_minute=0\n"
                       "timeout_s=5\n",
                       f->rx->port);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->conf, text, -1, &error);
  g_assert_no_error (error);
}

static char *
site_path (guint i)
{
  return g_strdup_printf ("/s%u", i);
}

static char *
monitor_name (guint i)
{
  return g_strdup_printf (i < BURST ? "burst-%04u" : "quiet-%02u", i < BURST ? i : i - BURST);
}

/* One `monitor import` of a JSON file: 1,020 `monitor add` runs would take minutes. */
static void
import_monitors (Fixture *f)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *path = g_build_filename (f->dir, "monitors.json", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;

  json_builder_begin_array (b);
  for (guint i = 0; i < BURST + QUIET; i++)
    {
      g_autofree char *sp = site_path (i);
      g_autofree char *url = tsq_test_server_get_url (f->site, sp);
      g_autofree char *name = monitor_name (i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
      json_builder_set_member_name (b, "url");
      json_builder_add_string_value (b, url);
      json_builder_set_member_name (b, "schedule");
      json_builder_add_string_value (b, "every 1s");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  g_file_set_contents (path, json, -1, &error);
  g_assert_no_error (error);
  if (tsq_test_agent_run (&out, &err, "monitor", "import", path, "--database", f->db, NULL) != 0)
    g_printerr ("monitor import: %s\n", err);
  g_assert_nonnull (strstr (err, "imported 1020 monitor(s)"));
}

static void
spawn_agent (Fixture *f)
{
  const char *args[] = { "--config", f->conf,
                         "--set",    "agent.domain_rate=100000",
                         "--set",    "agent.domain_burst=100000",
                         "--set",    "agent.spread_window=0",
                         NULL };

  f->agent = tsq_test_agent_spawn (f->db, args);
}

static void
kill_agent (Fixture *f)
{
  g_subprocess_force_exit (f->agent); /* SIGKILL */
  g_subprocess_wait (f->agent, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (f->agent));
  g_assert_cmpint (g_subprocess_get_term_sig (f->agent), ==, SIGKILL);
  g_clear_object (&f->agent);
}

static const char *
page (void)
{
  return "<html><head><title>Shop</title></head><body><h1>Shop</h1><p>Bread.</p></body></html>";
}

static gboolean
all_scanned (Fixture *f, guint times)
{
  for (guint i = 0; i < BURST + QUIET; i++)
    {
      g_autofree char *sp = site_path (i);

      if (tsq_test_server_get_hits (f->site, sp) < times)
        return FALSE;
    }
  return TRUE;
}

/* The stored alerts: exactly one open alert per monitor that went down (a kill must neither lose
 * the alert nor create a second one for the same outage). */
static void
check_stored_alerts (Fixture *f)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) monitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint rows = 0;

  g_assert_cmpint (tsq_test_agent_run (&out, &err, "alerts", "list", "--json", "--limit", "5000",
                                       "--database", f->db, NULL),
                   ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *row;

      if (*lines[i] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
      row = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (tsq_json_get_string (row, "change_type", ""), ==, "availability.down");
      g_assert_cmpstr (tsq_json_get_string (row, "state", ""), ==, "triggered");
      g_hash_table_add (monitors, g_strdup (tsq_json_get_string (row, "monitor_id", "")));
      rows++;
    }
  g_assert_cmpuint (rows, ==, BURST);
  g_assert_cmpuint (g_hash_table_size (monitors), ==, BURST);
}

static void
test_kill_during_burst (void)
{
  Fixture fixture = { 0 };
  Fixture *f = &fixture;
  g_autoptr (GHashTable) delivery_ids = set_table_new ();
  g_autoptr (GHashTable) alert_ids = set_table_new ();
  g_autoptr (GHashTable) delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  TsqTestRoute down = { .status = 503 };
  guint duplicates = 0;
  gint64 t0;

  f->dir = tsq_test_make_tmpdir ();
  f->db = g_build_filename (f->dir, "agent.db", NULL);
  f->conf = g_build_filename (f->dir, "agent.conf", NULL);
  f->site = tsq_test_server_new ();
  f->rx = receiver_new ();

  for (guint i = 0; i < BURST + QUIET; i++)
    {
      g_autofree char *sp = site_path (i);

      tsq_test_server_set_html (f->site, sp, page ());
    }
  write_config (f);
  import_monitors (f);
  spawn_agent (f);
  /* Every monitor has a baseline (an "up" scan) before the burst. */
  WAIT_UNTIL (all_scanned (f, 2));

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *sp = site_path (i);

      tsq_test_server_set_route (f->site, sp, &down);
    }

  /* Kill at random moments of the delivery: after about 100, 400 and 700 received requests
   * (each threshold moved by up to +-50 with the test's random seed). */
  for (guint k = 0; k < KILLS; k++)
    {
      guint threshold = 100 + 300 * k + g_test_rand_int_range (0, 101) - 50;

      WAIT_UNTIL (count_requests (f->rx) >= threshold || delivered_monitors (f->rx) == BURST);
      kill_agent (f);
      /* The first kill must hit the burst (later ones may come after its end on a slow day). */
      if (k == 0)
        g_assert_cmpuint (delivered_monitors (f->rx), <, BURST);
      g_test_message ("kill %u: after %u requests, %u monitors delivered", k + 1,
                      count_requests (f->rx), delivered_monitors (f->rx));
      spawn_agent (f);
    }
  /* Rows claimed by a killed agent come back after the lease (5 s). */
  WAIT_UNTIL (delivered_monitors (f->rx) == BURST);
  g_test_message ("all %u alerts delivered %.1f s after the pages went down, %u requests", BURST,
                  (g_get_monotonic_time () - t0) / 1e6, count_requests (f->rx));
  /* Late duplicates (rows whose lease expires now) get a chance to arrive before the checks. */
  g_usleep (6 * G_USEC_PER_SEC);

  g_subprocess_send_signal (f->agent, SIGTERM);
  g_subprocess_wait (f->agent, NULL, NULL);
  if (!g_subprocess_get_if_exited (f->agent) || g_subprocess_get_exit_status (f->agent) != 0)
    print_agent_stderr (f);
  g_assert_true (g_subprocess_get_if_exited (f->agent));
  g_assert_cmpint (g_subprocess_get_exit_status (f->agent), ==, 0);
  g_clear_object (&f->agent);

  per_monitor (f->rx, delivery_ids, alert_ids, delivered);
  g_assert_cmpuint (f->rx->bad_signatures, ==, 0);
  g_assert_cmpuint (f->rx->bad_payloads, ==, 0);
  /* Every alert of the burst delivered (accepted by the receiver) at least once. */
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *name = monitor_name (i);
      GHashTable *ids = g_hash_table_lookup (delivery_ids, name);

      if (!g_hash_table_contains (delivered, name))
        g_printerr ("%s: never delivered\n", name);
      g_assert_true (g_hash_table_contains (delivered, name));
      /* Duplicates only with the same idempotency id, and only of the same logical alert. */
      if (g_hash_table_size (ids) != 1)
        g_printerr ("%s: %u idempotency ids\n", name, g_hash_table_size (ids));
      g_assert_cmpuint (g_hash_table_size (ids), ==, 1);
      g_assert_cmpuint (g_hash_table_size (g_hash_table_lookup (alert_ids, name)), ==, 1);
    }
  /* Nothing for the monitors that never went down, nothing for unknown monitors. */
  for (guint i = BURST; i < BURST + QUIET; i++)
    {
      g_autofree char *name = monitor_name (i);

      g_assert_false (g_hash_table_contains (delivery_ids, name));
    }
  g_assert_cmpuint (g_hash_table_size (delivery_ids), ==, BURST);
  /* Only triggered notifications: nothing resolved, escalated or repeated. */
  g_mutex_lock (&f->rx->lock);
  for (guint i = 0; i < f->rx->requests->len; i++)
    g_assert_cmpstr (((Request *)g_ptr_array_index (f->rx->requests, i))->event, ==,
                     "alert.triggered");
  duplicates = f->rx->requests->len - BURST;
  g_mutex_unlock (&f->rx->lock);
  g_test_message ("%u requests for %u alerts: %u repeated deliveries (same id)", BURST + duplicates,
                  BURST, duplicates);
  check_stored_alerts (f);

  receiver_free (f->rx);
  tsq_test_server_free (f->site);
  if (g_test_failed ())
    g_printerr ("kept %s for inspection\n", f->dir);
  else
    tsq_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->db);
  g_free (f->conf);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tsq/alerts-fault/kill-during-burst", test_kill_during_burst);
  return g_test_run ();
}
