/* alerts-test.c: the alert service inside the real agent binary: a monitored page goes down, a
 * signed webhook notification reaches a receiver that refuses the first deliveries (retries with
 * the same idempotency id, exactly one logical alert), the page comes back (a resolved
 * notification), `alerts list --json` shows it resolved; `alerts ack` stops escalation; kill -9
 * during a burst loses nothing. */
#include "tsq-config.h"

#include <signal.h>
#include <string.h>

#include <libsoup/soup.h>

#include "tsq-json-util.h"
#include "tsq-signature.h"
#include "tsq-test-agent.h"
#include "tsq-test-server.h"

#define SECRET "test-hook-secret-123"
#define WAIT_S 90

/* ---- a webhook receiver on loopback, in its own thread ---- */

typedef struct
{
  char *delivery; /* X-TechScanIQ-Delivery */
  char *event;    /* "alert.triggered", ... */
  char *monitor;  /* monitor name of the first alert */
  guint status;   /* what we answered */
} Request;

typedef struct
{
  GMutex lock;
  TsqTestServer *server; /* the receiver is a handler on a test server thread */
  guint16 port;
  guint fail_first; /* answer 503 to this many requests */
  guint delay_ms;   /* per request (the receiver thread handles one at a time) */
  guint refuse;     /* != 0: answer every request with this status (under lock) */
  GPtrArray *requests;
  guint bad_signatures;
} Receiver;

static void
request_free (Request *r)
{
  g_free (r->delivery);
  g_free (r->event);
  g_free (r->monitor);
  g_free (r);
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

  r->delivery = g_strdup (soup_message_headers_get_one (headers, "X-TechScanIQ-Delivery"));
  if (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                  NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_get_object (json_parser_get_root (parser));
  r->event = g_strdup (root ? tsq_json_get_string (root, "event", "?") : "?");
  if (root && tsq_json_get_object (root, "alert"))
    {
      JsonObject *m = tsq_json_get_object (tsq_json_get_object (root, "alert"), "monitor");

      r->monitor = g_strdup (m ? tsq_json_get_string (m, "name", "") : "");
    }

  if (rx->delay_ms)
    g_usleep (rx->delay_ms * 1000);
  g_mutex_lock (&rx->lock);
  if (sig == NULL
      || !tsq_signature_verify (SECRET, sig, body, g_get_real_time () / G_USEC_PER_SEC, 300,
                                &error))
    {
      rx->bad_signatures++;
      r->status = 401;
    }
  else if (rx->refuse)
    r->status = rx->refuse;
  else if (rx->requests->len < rx->fail_first)
    r->status = 503;
  else
    r->status = 200;
  g_ptr_array_add (rx->requests, r);
  soup_server_message_set_status (msg, r->status, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok", 2);
  g_mutex_unlock (&rx->lock);
}

static Receiver *
receiver_new (guint fail_first)
{
  Receiver *rx = g_new0 (Receiver, 1);

  g_mutex_init (&rx->lock);
  rx->fail_first = fail_first;
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

/* Requests with this event (NULL = any) and answer status (0 = any). */
static guint
count_requests (Receiver *rx, const char *event, guint status)
{
  guint n = 0;

  g_mutex_lock (&rx->lock);
  for (guint i = 0; i < rx->requests->len; i++)
    {
      Request *r = g_ptr_array_index (rx->requests, i);

      if ((event == NULL || g_strcmp0 (r->event, event) == 0)
          && (status == 0 || r->status == status))
        n++;
    }
  g_mutex_unlock (&rx->lock);
  return n;
}

/* Distinct delivery ids of requests with this event. */
static GHashTable *
delivery_ids (Receiver *rx, const char *event)
{
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_mutex_lock (&rx->lock);
  for (guint i = 0; i < rx->requests->len; i++)
    {
      Request *r = g_ptr_array_index (rx->requests, i);

      if (g_strcmp0 (r->event, event) == 0 && r->delivery)
        g_hash_table_add (ids, g_strdup (r->delivery));
    }
  g_mutex_unlock (&rx->lock);
  return ids;
}

/* ---- fixture ---- */

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
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = tsq_test_make_tmpdir ();
  f->db = g_build_filename (f->dir, "agent.db", NULL);
  f->conf = g_build_filename (f->dir, "agent.conf", NULL);
  f->site = tsq_test_server_new ();
  f->rx = receiver_new (GPOINTER_TO_UINT (data));
}

static void
stop_agent (Fixture *f)
{
  if (f->agent)
    {
      g_subprocess_send_signal (f->agent, SIGTERM);
      g_subprocess_wait (f->agent, NULL, NULL);
      /* A clean stop (also: no leak reports under ASAN). */
      if (!g_subprocess_get_if_exited (f->agent) || g_subprocess_get_exit_status (f->agent) != 0)
        {
          g_autofree char *err_path = g_build_filename (f->dir, "agent.err", NULL);
          g_autofree char *text = NULL;

          g_file_get_contents (err_path, &text, NULL, NULL);
          g_printerr ("agent stderr:\n%s\n", text ? text : "");
        }
      g_assert_true (g_subprocess_get_if_exited (f->agent));
      g_assert_cmpint (g_subprocess_get_exit_status (f->agent), ==, 0);
      g_clear_object (&f->agent);
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->agent)
    {
      g_subprocess_force_exit (f->agent);
      g_subprocess_wait (f->agent, NULL, NULL);
      g_clear_object (&f->agent);
    }
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

static void
write_config (Fixture *f, const char *rules, const char *extra)
{
  g_autofree char *text = g_strdup_printf ("[alerts]\n"
                                           "group_wait=0.5\n"
                                           "group_interval=1\n"
                                           "retry_base=0.3\n"
                                           "retry_cap=1\n"
                                           "poll_interval=0.5\n"
                                           "lease=10\n"
                                           "rules=%s\n"
                                           "%s"
                                           "[channel hook]\n"
                                           "type=webhook\n"
                                           "url=http://127.0.0.1:%u/hook\n"
                                           "secret=" SECRET "\n"
                                           "rate_per_minute=0\n"
                                           "timeout_s=5\n",
                                           rules, extra ? extra : "", f->rx->port);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->conf, text, -1, &error);
  g_assert_no_error (error);
}

static void
add_monitor (Fixture *f, const char *name, const char *path)
{
  g_autofree char *url = tsq_test_server_get_url (f->site, path);
  g_autofree char *err = NULL;

  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "monitor", "add", url, "--name", name,
                                       "--schedule", "every 1s", "--database", f->db, NULL),
                   ==, 0);
}

static void
spawn_agent (Fixture *f)
{
  const char *args[] = { "--config", f->conf,
                         "--set",    "agent.domain_rate=1000",
                         "--set",    "agent.domain_burst=1000",
                         "--set",    "agent.spread_window=0",
                         NULL };

  f->agent = tsq_test_agent_spawn (f->db, args);
}

static const char *
page (void)
{
  return "<html><head><title>Shop</title></head><body><h1>Shop</h1><p>Bread.</p></body></html>";
}

static void
set_down (Fixture *f, const char *path, gboolean down)
{
  if (down)
    {
      TsqTestRoute route = { .status = 503 };

      tsq_test_server_set_route (f->site, path, &route);
    }
  else
    tsq_test_server_set_html (f->site, path, page ());
}

/* Polls cond until it holds or WAIT_S pass (generous: the machine is shared). */
#define WAIT_UNTIL(cond)                                                                           \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 deadline_ = g_get_monotonic_time () + (gint64)WAIT_S * G_USEC_PER_SEC;                  \
    while (!(cond) && g_get_monotonic_time () < deadline_)                                         \
      g_usleep (100 * 1000);                                                                       \
    if (!(cond))                                                                                   \
      {                                                                                            \
        g_autofree char *err_path_ = g_build_filename (f->dir, "agent.err", NULL);                 \
        g_autofree char *err_text_ = NULL;                                                         \
        g_file_get_contents (err_path_, &err_text_, NULL, NULL);                                   \
        g_printerr ("agent stderr:\n%s\n", err_text_ ? err_text_ : "");                            \
      }                                                                                            \
    g_assert_true (cond);                                                                          \
  }                                                                                                \
  G_STMT_END

static GPtrArray *
alerts_json (Fixture *f)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "alerts", "list", "--json", "--database", f->db, NULL), ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      if (*lines[i] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
      g_ptr_array_add (rows,
                       json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return rows;
}

static const char *
alert_state (Fixture *f, const char *change_type)
{
  g_autoptr (GPtrArray) rows = alerts_json (f);
  static char state[32];

  *state = '\0';
  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (tsq_json_get_string (g_ptr_array_index (rows, i), "change_type", ""),
                   change_type)
        == 0)
      g_strlcpy (state, tsq_json_get_string (g_ptr_array_index (rows, i), "state", ""),
                 sizeof state);
  return state;
}

#define DOWN_RULE                                                                                  \
  "[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},\"severity\":\"critical\","        \
  "\"channels\":[\"hook\"]}]"

static JsonObject *find_alert_event (Fixture *f, const char *notification_id);

/* Down -> one logical alert through two 503s; up -> a resolved notification. Both decisions are
 * announced as alert.triggered events naming the delivered ids. */
static void
test_down_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) triggered = NULL;
  g_autoptr (GHashTable) resolved = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  JsonObject *row;

  set_down (f, "/site", FALSE);
  write_config (f, DOWN_RULE, "[agent]\nlog_format=json\n");
  add_monitor (f, "shop", "/site");
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);

  set_down (f, "/site", TRUE);
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 200) >= 1);
  /* The two refused attempts and the accepted one carry the same idempotency id. */
  g_assert_cmpuint (count_requests (f->rx, "alert.triggered", 503), ==, 2);
  triggered = delivery_ids (f->rx, "alert.triggered");
  g_assert_cmpuint (g_hash_table_size (triggered), ==, 1);
  g_assert_cmpstr (alert_state (f, "availability.down"), ==, "triggered");

  set_down (f, "/site", FALSE);
  WAIT_UNTIL (count_requests (f->rx, "alert.resolved", 200) >= 1);
  resolved = delivery_ids (f->rx, "alert.resolved");
  g_assert_cmpuint (g_hash_table_size (resolved), ==, 1);
  {
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array (triggered, NULL);
    g_autofree gpointer *rkeys = g_hash_table_get_keys_as_array (resolved, NULL);
    g_autoptr (JsonObject) ev_triggered = NULL;
    g_autoptr (JsonObject) ev_resolved = NULL;

    g_assert_false (g_hash_table_contains (resolved, keys[0]));
    WAIT_UNTIL ((ev_resolved = find_alert_event (f, rkeys[0])) != NULL);
    ev_triggered = find_alert_event (f, keys[0]);
    g_assert_nonnull (ev_triggered);
    g_assert_cmpstr (tsq_json_get_string (ev_triggered, "kind", ""), ==, "triggered");
    g_assert_cmpstr (tsq_json_get_string (ev_resolved, "kind", ""), ==, "resolved");
  }
  stop_agent (f);

  g_assert_cmpuint (f->rx->bad_signatures, ==, 0);
  /* Still exactly one logical alert: no second triggered notification. */
  g_hash_table_unref (triggered);
  triggered = delivery_ids (f->rx, "alert.triggered");
  g_assert_cmpuint (g_hash_table_size (triggered), ==, 1);

  rows = alerts_json (f);
  g_assert_cmpuint (rows->len, ==, 1);
  row = g_ptr_array_index (rows, 0);
  g_assert_cmpstr (tsq_json_get_string (row, "state", ""), ==, "resolved");
  g_assert_cmpstr (tsq_json_get_string (row, "change_type", ""), ==, "availability.down");
  g_assert_cmpstr (tsq_json_get_string (row, "severity", ""), ==, "critical");
}

/* An escalating alert stops escalating once acknowledged with the CLI. */
static void
test_ack_stops_escalation (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autofree char *id = NULL;
  g_autofree char *err = NULL;
  guint escalated;

  set_down (f, "/site", FALSE);
  write_config (f,
                "[{\"id\":\"down\",\"match\":{\"type\":\"availability.down\"},"
                "\"escalation\":\"oncall\"}]",
                "[agent]\nlog_format=json\n"
                "[escalation oncall]\nlevels=hook@1; hook@1\nrepeat=50\n");
  add_monitor (f, "shop", "/site");
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);
  set_down (f, "/site", TRUE);
  WAIT_UNTIL (count_requests (f->rx, "alert.escalated", 200) >= 2);
  /* Escalation steps are announced too, with their level. */
  {
    g_autoptr (GHashTable) esc = delivery_ids (f->rx, "alert.escalated");
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array (esc, NULL);
    g_autoptr (JsonObject) event = NULL;

    WAIT_UNTIL ((event = find_alert_event (f, keys[0])) != NULL);
    g_assert_cmpstr (tsq_json_get_string (event, "kind", ""), ==, "escalated");
    g_assert_cmpint (tsq_json_get_int (event, "escalation_level", 0), >=, 1);
  }

  rows = alerts_json (f);
  g_assert_cmpuint (rows->len, ==, 1);
  id = g_strdup_printf ("%" G_GINT64_FORMAT,
                        tsq_json_get_int (g_ptr_array_index (rows, 0), "id", 0));
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "alerts", "ack", id, "--by", "alice",
                                       "--database", f->db, NULL),
                   ==, 0);
  g_assert_cmpstr (alert_state (f, "availability.down"), ==, "acknowledged");
  /* The agent polls every 0.5 s; an escalation step is due every 1 s. After a few seconds, no
   * further escalation may arrive. */
  g_usleep (3 * G_USEC_PER_SEC);
  escalated = count_requests (f->rx, "alert.escalated", 0);
  g_usleep (4 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_requests (f->rx, "alert.escalated", 0), ==, escalated);
  stop_agent (f);
  g_assert_cmpstr (alert_state (f, "availability.down"), ==, "acknowledged");
  g_assert_cmpuint (f->rx->bad_signatures, ==, 0);
}

/* Distinct delivery ids per monitor of accepted-or-not triggered notifications, and the
 * monitors that got at least one accepted one. */
static void
per_monitor (Receiver *rx, GHashTable *ids_per_monitor, GHashTable *delivered)
{
  g_mutex_lock (&rx->lock);
  for (guint i = 0; i < rx->requests->len; i++)
    {
      Request *r = g_ptr_array_index (rx->requests, i);
      GHashTable *ids;

      if (g_strcmp0 (r->event, "alert.triggered") != 0 || r->monitor == NULL)
        continue;
      ids = g_hash_table_lookup (ids_per_monitor, r->monitor);
      if (ids == NULL)
        {
          ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_hash_table_insert (ids_per_monitor, g_strdup (r->monitor), ids);
        }
      g_hash_table_add (ids, g_strdup (r->delivery));
      if (r->status == 200)
        g_hash_table_add (delivered, g_strdup (r->monitor));
    }
  g_mutex_unlock (&rx->lock);
}

#define BURST 24

static guint
delivered_monitors (Receiver *rx)
{
  g_autoptr (GHashTable) ids
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  g_autoptr (GHashTable) delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  per_monitor (rx, ids, delivered);
  return g_hash_table_size (delivered);
}

/* kill -9 the agent twice while a burst of alerts is being delivered: after a restart every
 * alert is delivered at least once, and repeated deliveries of one alert share one id. */
static void
test_kill_during_burst (Fixture *f, gconstpointer data)
{
  g_autoptr (GHashTable) ids
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  g_autoptr (GHashTable) delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;

  f->rx->delay_ms = 150;
  write_config (f, DOWN_RULE, NULL);
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *path = g_strdup_printf ("/s%u", i);
      g_autofree char *name = g_strdup_printf ("site-%02u", i);

      set_down (f, path, FALSE);
      add_monitor (f, name, path);
    }
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/s0") >= 2
              && tsq_test_server_get_hits (f->site, "/s23") >= 2);
  for (guint i = 0; i < BURST; i++)
    {
      g_autofree char *path = g_strdup_printf ("/s%u", i);

      set_down (f, path, TRUE);
    }
  for (guint round = 0; round < 2; round++)
    {
      guint before = count_requests (f->rx, NULL, 0);

      WAIT_UNTIL (count_requests (f->rx, NULL, 0) >= before + 3
                  || delivered_monitors (f->rx) == BURST);
      g_subprocess_force_exit (f->agent); /* SIGKILL */
      g_subprocess_wait (f->agent, NULL, NULL);
      g_clear_object (&f->agent);
      g_test_message ("killed after %u requests", count_requests (f->rx, NULL, 0));
      spawn_agent (f);
    }
  /* Rows claimed by a killed agent come back after the lease (10 s). */
  WAIT_UNTIL (delivered_monitors (f->rx) == BURST);
  stop_agent (f);

  per_monitor (f->rx, ids, delivered);
  g_assert_cmpuint (g_hash_table_size (delivered), ==, BURST);
  g_hash_table_iter_init (&iter, ids);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (g_hash_table_size (value) != 1)
        g_printerr ("%s: %u ids\n", (char *)key, g_hash_table_size (value));
      g_assert_cmpuint (g_hash_table_size (value), ==, 1);
    }
  g_assert_cmpuint (f->rx->bad_signatures, ==, 0);
}

/* A silence made with the CLI before the site goes down keeps the alert quiet; expiring it with
 * the CLI while the site is still down notifies it. */
static void
test_silence (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *id = NULL;

  set_down (f, "/site", FALSE);
  write_config (f, DOWN_RULE, NULL);
  add_monitor (f, "shop", "/site");
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "silence", "add", "--match", "monitor=shop",
                                       "--duration", "1h", "--database", f->db, NULL),
                   ==, 0);
  id = g_strstrip (g_strdup (out));
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);
  set_down (f, "/site", TRUE);
  WAIT_UNTIL (g_str_equal (alert_state (f, "availability.down"), "triggered"));
  /* Well past the group wait (0.5 s): silenced, so nothing was sent. */
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_requests (f->rx, NULL, 0), ==, 0);

  g_assert_cmpint (
    tsq_test_agent_run (NULL, NULL, "silence", "expire", id, "--database", f->db, NULL), ==, 0);
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 200) >= 1);
  stop_agent (f);
  g_assert_cmpuint (count_requests (f->rx, "alert.triggered", 0), ==, 1);
}

/* Outbox rows of a state, as printed by `alerts outbox --state STATE --json`. */
static GPtrArray *
outbox_json (Fixture *f, const char *state)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify)json_object_unref);

  g_assert_cmpint (tsq_test_agent_run (&out, &err, "alerts", "outbox", "--state", state, "--json",
                                       "--database", f->db, NULL),
                   ==, 0);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      if (*lines[i] == '\0')
        continue;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, NULL));
      g_ptr_array_add (rows,
                       json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return rows;
}

/* The alert.triggered event printed by the agent (--log-format=json: one JSON object per line on
 * stdout) that announced the outbox row notification_id; NULL if none. */
static JsonObject *
find_alert_event (Fixture *f, const char *notification_id)
{
  g_autofree char *path = g_build_filename (f->dir, "agent.out", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o;
      JsonArray *ids;

      if (*lines[i] != '{' || !json_parser_load_from_data (parser, lines[i], -1, NULL))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (tsq_json_get_string (o, "event", ""), "alert.triggered") != 0)
        continue;
      ids = tsq_json_get_array (o, "notifications");
      for (guint j = 0; ids && j < json_array_get_length (ids); j++)
        if (g_strcmp0 (json_array_get_string_element (ids, j), notification_id) == 0)
          return json_object_ref (o);
    }
  return NULL;
}

/* A receiver answering 400 (permanent): the notification is dead-lettered at once and visible
 * with `alerts outbox --state dead`; once the receiver is fixed, `alerts requeue` delivers it
 * (same idempotency id). */
static void
test_dead_letter_requeue (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) dead = NULL;
  g_autoptr (GPtrArray) delivered = NULL;
  g_autoptr (GHashTable) ids = NULL;
  g_autoptr (JsonObject) event = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *id = NULL;
  JsonObject *row;
  JsonArray *list;

  f->rx->refuse = 400;
  set_down (f, "/site", FALSE);
  write_config (f, DOWN_RULE, "[agent]\nlog_format=json\n");
  add_monitor (f, "shop", "/site");
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);
  set_down (f, "/site", TRUE);
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 400) >= 1);
  dead = outbox_json (f, "dead");
  WAIT_UNTIL ((g_ptr_array_unref (dead), dead = outbox_json (f, "dead"))->len == 1);
  row = g_ptr_array_index (dead, 0);
  id = g_strdup (tsq_json_get_string (row, "id", ""));
  g_assert_cmpstr (tsq_json_get_string (row, "channel", ""), ==, "hook");
  g_assert_cmpstr (tsq_json_get_string (row, "kind", ""), ==, "triggered");
  g_assert_cmpint (tsq_json_get_int (row, "attempts", 0), ==, 1);
  g_assert_nonnull (strstr (tsq_json_get_string (row, "last_error", ""), "400"));
  /* Permanent: no retry. */
  g_assert_cmpuint (count_requests (f->rx, "alert.triggered", 0), ==, 1);

  /* The decision was announced on the bus (printed by `run` as JSON): kind, channels, the
   * outbox id and the alert snapshot. */
  WAIT_UNTIL ((event = find_alert_event (f, id)) != NULL);
  g_assert_cmpstr (tsq_json_get_string (event, "kind", ""), ==, "triggered");
  list = tsq_json_get_array (event, "channels");
  g_assert_nonnull (list);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (list, 0), ==, "hook");
  list = tsq_json_get_array (event, "alerts");
  g_assert_nonnull (list);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  g_assert_cmpstr (tsq_json_get_string (json_array_get_object_element (list, 0), "type", ""), ==,
                   "availability.down");
  g_assert_cmpstr (
    tsq_json_get_string (json_array_get_object_element (list, 0), "monitor_name", ""), ==, "shop");
  g_assert_cmpstr (
    tsq_json_get_string (event, "monitor_id", ""), ==,
    tsq_json_get_string (json_array_get_object_element (list, 0), "monitor_id", "?"));
  list = tsq_json_get_array (event, "alert_ids");
  g_assert_nonnull (list);
  g_assert_cmpuint (json_array_get_length (list), ==, 1);

  /* The table: id, state and error, not the rendered body, never the secret. */
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "alerts", "outbox", "--state", "dead",
                                       "--database", f->db, NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, id));
  g_assert_nonnull (strstr (out, "dead"));
  g_assert_null (strstr (out, "\"event\""));
  g_assert_null (strstr (out, SECRET));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "alerts", "outbox", "--state", "pending",
                                       "--database", f->db, NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, "No notifications."));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_mutex_lock (&f->rx->lock);
  f->rx->refuse = 0;
  g_mutex_unlock (&f->rx->lock);
  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "alerts", "requeue", id, "--database", f->db, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "requeued"));
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 200) >= 1);
  delivered = outbox_json (f, "delivered");
  WAIT_UNTIL ((g_ptr_array_unref (delivered), delivered = outbox_json (f, "delivered"))->len == 1);
  g_assert_cmpstr (tsq_json_get_string (g_ptr_array_index (delivered, 0), "id", ""), ==, id);
  stop_agent (f);
  ids = delivery_ids (f->rx, "alert.triggered");
  g_assert_cmpuint (g_hash_table_size (ids), ==, 1);
  g_assert_true (g_hash_table_contains (ids, id));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Bad input: not dead any more, unknown id, bad state. */
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "alerts", "requeue", id, "--database", f->db, NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "alerts", "requeue", "nope", "--database", f->db, NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "alerts", "outbox", "--state", "lost",
                                       "--database", f->db, NULL),
                   ==, 2);
}

/* A maintenance window active now (CLI, fixed range) keeps the down alert quiet (stored, not
 * notified); removing it while the site is still down notifies the open condition. */
static void
test_maintenance (Fixture *f, gconstpointer data)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) from = g_date_time_add_minutes (now, -1);
  g_autoptr (GDateTime) until = g_date_time_add_hours (now, 1);
  g_autofree char *from_iso = g_date_time_format_iso8601 (from);
  g_autofree char *until_iso = g_date_time_format_iso8601 (until);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *id = NULL;

  set_down (f, "/site", FALSE);
  write_config (f, DOWN_RULE, NULL);
  add_monitor (f, "shop", "/site");
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "maintenance", "add", "shop", "--from", from_iso,
                                       "--until", until_iso, "--comment", "deploy", "--database",
                                       f->db, NULL),
                   ==, 0);
  id = g_strstrip (g_strdup (out));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "maintenance", "list", "--json", "--database", f->db, NULL), ==,
    0);
  g_assert_nonnull (strstr (out, "\"state\":\"active until"));
  g_assert_nonnull (strstr (out, "\"comment\":\"deploy\""));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);
  set_down (f, "/site", TRUE);
  WAIT_UNTIL (g_str_equal (alert_state (f, "availability.down"), "triggered"));
  /* Well past the group wait (0.5 s): in maintenance, so nothing was sent. */
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_requests (f->rx, NULL, 0), ==, 0);

  g_assert_cmpint (
    tsq_test_agent_run (&out, NULL, "maintenance", "remove", id, "--database", f->db, NULL), ==, 0);
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 200) >= 1);
  stop_agent (f);
  g_assert_cmpuint (count_requests (f->rx, "alert.triggered", 0), ==, 1);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (&out, NULL, "maintenance", "list", "--database", f->db, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "No maintenance windows."));
  /* Bad input. */
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "maintenance", "add", "shop", "--cron",
                                       "0 2 * * SUN", "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "maintenance", "add", "nosuch", "--from",
                                       from_iso, "--until", until_iso, "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "maintenance", "remove", id, "--database", f->db, NULL), ==, 2);
}

static gboolean
log_contains (Fixture *f, const char *needle)
{
  g_autofree char *path = g_build_filename (f->dir, "agent.err", NULL);
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && strstr (text, needle) != NULL;
}

/* SIGHUP reloads [alerts] and [channel …]: a bad new configuration is refused (the old one keeps
 * running), a good one applies to the next scans without a restart. */
static void
test_reload (Fixture *f, gconstpointer data)
{
  g_autofree char *good = NULL;

  set_down (f, "/site", FALSE);
  /* At first nothing alerts on availability. */
  write_config (f,
                "[{\"id\":\"tech\",\"match\":{\"type\":\"technology.*\"},"
                "\"channels\":[\"hook\"]}]",
                "default_rules=false\n");
  add_monitor (f, "shop", "/site");
  spawn_agent (f);
  WAIT_UNTIL (tsq_test_server_get_hits (f->site, "/site") >= 2);

  g_assert_true (g_file_set_contents (
    f->conf, "[alerts]\nrules=[{\"id\":\"x\",\"channels\":[\"nochan\"]}]\n", -1, NULL));
  g_subprocess_send_signal (f->agent, SIGHUP);
  WAIT_UNTIL (log_contains (f, "reload failed"));
  g_assert_true (log_contains (f, "nochan"));

  write_config (f, DOWN_RULE, NULL);
  g_subprocess_send_signal (f->agent, SIGHUP);
  WAIT_UNTIL (log_contains (f, "alerts: configuration reloaded"));
  set_down (f, "/site", TRUE);
  WAIT_UNTIL (count_requests (f->rx, "alert.triggered", 200) >= 1);
  stop_agent (f);
  g_assert_cmpuint (f->rx->bad_signatures, ==, 0);
  g_assert_cmpstr (alert_state (f, "availability.down"), ==, "triggered");
}

/* The command line without an agent: notify test, silences, bad input. */
static void
test_cli (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *bad_conf = g_build_filename (f->dir, "bad.conf", NULL);
  g_autofree char *id = NULL;

  write_config (f, DOWN_RULE, NULL);
  add_monitor (f, "shop", "/site");
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "notify", "test", "hook", "--config", f->conf,
                                       "--database", f->db, NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, "delivered to hook"));
  g_assert_null (strstr (out, SECRET));
  g_assert_cmpuint (count_requests (f->rx, "alert.test", 200), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A refused delivery is reported with its class, without the secret. */
  f->rx->fail_first = 2;
  g_assert_cmpint (tsq_test_agent_run (&out, &err, "notify", "test", "hook", "--config", f->conf,
                                       "--database", f->db, NULL),
                   ==, 3);
  g_assert_nonnull (strstr (err, "retryable"));
  g_assert_null (strstr (err, SECRET));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "notify", "test", "nope", "--config", f->conf,
                                       "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (tsq_test_agent_run (&out, &err, "silence", "add", "--match", "monitor=shop",
                                       "--match", "type=technology.*", "--duration", "2h",
                                       "--comment", "deploy", "--database", f->db, NULL),
                   ==, 0);
  id = g_strstrip (g_strdup (out));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "silence", "list", "--json", "--database", f->db, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"type\":\"technology.*\""));
  g_assert_nonnull (strstr (out, "\"state\":\"active\""));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "silence", "expire", id, "--database", f->db, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (&out, &err, "silence", "expire", id, "--database", f->db, NULL), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* Bad matchers, durations and ids. */
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "silence", "add", "--match", "colour=red",
                                       "--duration", "2h", "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "silence", "add", "--match", "severity=loud",
                                       "--duration", "2h", "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "silence", "add", "--match", "type=a",
                                       "--duration", "forever", "--database", f->db, NULL),
                   ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "alerts", "ack", "999", "--database", f->db, NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (
    tsq_test_agent_run (NULL, &err, "alerts", "show", "x", "--database", f->db, NULL), ==, 2);
  g_clear_pointer (&err, g_free);

  /* Configuration errors name group and key. */
  g_file_set_contents (bad_conf, "[alerts]\nrules=[{\"id\":\"x\",\"channels\":[\"nochan\"]}]\n", -1,
                       NULL);
  g_assert_cmpint (tsq_test_agent_run (NULL, &err, "alerts", "list", "--config", bad_conf,
                                       "--database", f->db, NULL),
                   ==, 2);
  g_assert_nonnull (strstr (err, "[alerts] rules"));
  g_assert_nonnull (strstr (err, "nochan"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tsq/alerts/cli", Fixture, GUINT_TO_POINTER (0), fixture_setup, test_cli,
              fixture_teardown);
  g_test_add ("/tsq/alerts/down-up-retries", Fixture, GUINT_TO_POINTER (2), fixture_setup,
              test_down_up, fixture_teardown);
  g_test_add ("/tsq/alerts/ack-stops-escalation", Fixture, GUINT_TO_POINTER (0), fixture_setup,
              test_ack_stops_escalation, fixture_teardown);
  g_test_add ("/tsq/alerts/silence", Fixture, GUINT_TO_POINTER (0), fixture_setup, test_silence,
              fixture_teardown);
  g_test_add ("/tsq/alerts/dead-letter-requeue", Fixture, GUINT_TO_POINTER (0), fixture_setup,
              test_dead_letter_requeue, fixture_teardown);
  g_test_add ("/tsq/alerts/maintenance", Fixture, GUINT_TO_POINTER (0), fixture_setup,
              test_maintenance, fixture_teardown);
  g_test_add ("/tsq/alerts/reload", Fixture, GUINT_TO_POINTER (0), fixture_setup, test_reload,
              fixture_teardown);
  g_test_add ("/tsq/alerts/kill-during-burst", Fixture, GUINT_TO_POINTER (0), fixture_setup,
              test_kill_during_burst, fixture_teardown);
  return g_test_run ();
}
