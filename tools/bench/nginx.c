/*
 * nginx.c - nginx as hf-mock-hub's CDN for hf-bench (see nginx.h).
 *
 * Design notes
 *  - the config: `daemon off` (the master is our child), pid file, error log and temp
 *    paths in `dir`, one loopback port picked here, sendfile, and `limit_rate
 *    $bench_rate` where a map from the URI gives each repo its rate. The location maps
 *    /repos/{type}s/ORG/NAME/<sha256>/PATH to ROOT/{type}s/ORG/NAME/PATH (regex + alias)
 *    and never looks at the signature the mock appends;
 *  - as root, its workers run as root too (the folders are private to hf-bench);
 *  - a port taken between picking and binding: nginx exits, and we try another (3 tries).
 */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nginx.h"
#include "proc.h"

static int write_conf(const char *dir, const char *conf, const char *modules, int port,
                      const char *root, uint64_t default_bps, const nginx_rate_t *rates,
                      unsigned nrates)
{
    static const char *const temps[] = { "proxy", "fastcgi", "uwsgi", "scgi" };
    FILE *f = fopen(conf, "w");

    if (!f)
        return -1;
    fprintf(f, "# written by hf-bench\n"
               "daemon off;\nmaster_process on;\nworker_processes auto;\n"
               "pid \"%s/nginx.pid\";\nerror_log \"%s/error.log\" warn;\n", dir, dir);
    if (geteuid() == 0) {
        struct passwd *pw = getpwuid(0);
        fprintf(f, "user %s;\n", pw ? pw->pw_name : "root");
    }
    fprintf(f, "events { worker_connections 4096; }\n"
               "http {\n"
               "    access_log off;\n    sendfile on;\n    tcp_nopush on;\n"
               "    keepalive_requests 100000;\n"
               "    default_type application/octet-stream;\n"
               "    client_body_temp_path \"%s/body\";\n", dir);
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++) {
        char without[64];
        snprintf(without, sizeof without, "--without-http_%s_module", temps[i]);
        if (!strstr(modules, without))
            fprintf(f, "    %s_temp_path \"%s/%s\";\n", temps[i], dir, temps[i]);
    }
    fprintf(f, "    map $uri $bench_rate {\n        default %llu;\n",
            (unsigned long long)default_bps);
    for (unsigned i = 0; i < nrates; i++)
        fprintf(f, "        ~^/repos/models/%s/ %llu;\n", rates[i].repo,
                (unsigned long long)rates[i].bps);
    fprintf(f, "    }\n"
               "    server {\n"
               "        listen 127.0.0.1:%d;\n"
               "        location ~ \"^/repos/(.+)/[0-9a-f]{64}/(.+)$\" {\n"
               "            alias \"%s/$1/$2\";\n"
               "            limit_rate $bench_rate;\n"
               "        }\n"
               "    }\n"
               "}\n", port, root);
    return fclose(f) == 0 ? 0 : -1;
}

int nginx_cdn_start(nginx_cdn_t *n, const char *dir, const char *root, const char *log,
                    uint64_t default_bps, const nginx_rate_t *rates, unsigned nrates)
{
    char bin[512], conf[700], modules[8192], version[128], prefix[700];

    memset(n, 0, sizeof *n);
    n->pid = -1;
    if (strpbrk(root, "\"\\$;{}") || strpbrk(dir, "\"\\$;{}")) {
        snprintf(n->note, sizeof n->note, "a path nginx's config cannot quote");
        return -1;
    }
    if (proc_which("nginx", bin, sizeof bin) < 0) {
        snprintf(n->note, sizeof n->note, "nginx not installed");
        return -1;
    }
    proc_first_line((char *[]){ bin, "-v", NULL }, version, sizeof version);
    /* which modules (and so which temp path directives) this build has */
    proc_capture((char *[]){ bin, "-V", NULL }, modules, sizeof modules);
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(prefix, sizeof prefix, "%s/", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(n->note, sizeof n->note, "cannot make %s", dir);
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = proc_free_port(), up = 0, fd;
        char *argv[] = { bin, "-p", prefix, "-c", conf, NULL };

        if (port < 0 || write_conf(dir, conf, modules, port, root, default_bps, rates, nrates) < 0)
            break;
        if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
            break;
        n->pid = child_spawn(argv, fd, fd);
        close(fd);
        for (unsigned waited = 0; n->pid > 0 && waited < 10000; waited += 10) {
            if (proc_port_open(port)) {
                up = 1;
                break;
            }
            if (child_wait(n->pid, 0) != -1) {
                n->pid = -1;    /* exited: the port was taken, or a bad config */
                break;
            }
            proc_sleep_ms(10);
        }
        if (up) {
            const char *v = strchr(version, '/');
            snprintf(n->url, sizeof n->url, "http://127.0.0.1:%d", port);
            snprintf(n->note, sizeof n->note, "nginx %s", v ? v + 1 : version);
            return 0;
        }
        child_stop(&n->pid);
    }
    fprintf(stderr, "hf-bench: nginx did not start: see %s/error.log and %s\n", dir, log);
    snprintf(n->note, sizeof n->note, "nginx did not start");
    return -1;
}

void nginx_cdn_stop(nginx_cdn_t *n)
{
    child_stop(&n->pid);
}
