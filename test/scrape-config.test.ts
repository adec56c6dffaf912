/**
 * Reading Prometheus' configuration file (src/config/scrapeConfig.ts): defaults as Prometheus 2.42
 * applies them, errors with line, column and key path, notes for keys that do not apply, refusals
 * for keys that are not supported. Every file this test accepts also passes `promtool check config`
 * (when promtool is installed; CI installs it), and every file it refuses for a Prometheus reason
 * fails promtool too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseScrapeConfig, promDuration, ScrapeConfigError } from '../src/config/scrapeConfig';
import { requireBinary } from './helpers/requires';
import { PROMTOOL, promtoolCheck } from './helpers/promtool';
import { ConfigError, parseSettings } from '../src/config/settings';
import { jobTargets } from '../src/discovery/jobTargets';

const FULL = `# A complete file: two jobs, every supported key.
global:
  scrape_interval: 30s
  scrape_timeout: 5s
  external_labels: { region: ap-mumbai-1 }
scrape_configs:
  - job_name: bharatmart
    metrics_path: /metrics
    scheme: http
    params: { format: [prometheus] }
    honor_labels: true
    honor_timestamps: false
    sample_limit: 5000
    target_limit: 10
    label_limit: 30
    label_name_length_limit: 100
    label_value_length_limit: 500
    authorization:
      type: Bearer
      credentials: oci-vault://ocid1.vaultsecret.oc1.ap-mumbai-1.amaaaaaaexample
    static_configs:
      - targets: ['10.0.0.5:9100', '10.0.0.6:9100']
        labels: { env: prod, __oci_namespace__: bharatmart }
    relabel_configs:
      - source_labels: [__address__]
        regex: '([^:]+):\\d+'
        target_label: host
      - action: hashmod
        source_labels: [__address__]
        modulus: 4
        target_label: __tmp_shard
    metric_relabel_configs:
      - action: labeldrop
        regex: path
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
  - job_name: node
    scrape_timeout: 3s
    basic_auth:
      username: prom
      password_file: oci-vault://ocid1.vaultsecret.oc1.ap-mumbai-1.amaaaaaaexample2
    static_configs:
      - targets: [localhost:9100]
`;

describe('scrape config: reading', () => {
  test('a complete file: every key, Prometheus defaults', () => {
    const c = parseScrapeConfig(FULL, 'test.yml');
    assert.equal(c.jobs.length, 2);
    const [a, b] = c.jobs;
    assert.equal(a.name, 'bharatmart');
    assert.deepEqual(a.params, { format: ['prometheus'] });
    assert.equal(a.honorLabels, true);
    assert.equal(a.honorTimestamps, false);
    assert.equal(a.scrapeTimeout, '5s');
    assert.equal(a.scrapeInterval, '30s');
    assert.deepEqual([a.sampleLimit, a.targetLimit, a.labelLimit, a.labelNameLengthLimit, a.labelValueLengthLimit], [5000, 10, 30, 100, 500]);
    assert.deepEqual(a.staticConfigs[0], { targets: ['10.0.0.5:9100', '10.0.0.6:9100'], labels: { env: 'prod', __oci_namespace__: 'bharatmart' } });
    assert.deepEqual(a.auth, { kind: 'bearer', secretId: 'ocid1.vaultsecret.oc1.ap-mumbai-1.amaaaaaaexample' });
    assert.equal(a.relabelConfigs[1].modulus, 4n);
    assert.equal(a.metricRelabelConfigs.length, 2);
    assert.equal(b.scheme, 'http');
    assert.equal(b.metricsPath, '/metrics');
    assert.equal(b.honorLabels, false);
    assert.equal(b.honorTimestamps, true);
    assert.equal(b.scrapeTimeoutMs, 3000);
    assert.equal(b.sampleLimit, 0);
    assert.deepEqual(b.auth, { kind: 'basic', username: 'prom', passwordSecretId: 'ocid1.vaultsecret.oc1.ap-mumbai-1.amaaaaaaexample2' });
    assert.equal(c.notes.length, 2);
    assert.match(c.notes[0], /^global\.scrape_interval \(test\.yml line 3, column 3\): not applied/);
    assert.match(c.notes[1], /^global\.external_labels \(test\.yml line 5, column 3\): not applied/);
  });

  test('the complete file passes promtool check config', (t) => {
    if (!requireBinary(t, PROMTOOL, 'prometheus')) return;
    const r = promtoolCheck(FULL);
    assert.ok(r.ok, r.output);
  });

  test('timeouts: inherited from global, capped by the interval, as Prometheus does', () => {
    const one = (text: string) => parseScrapeConfig(text, 'x').jobs[0];
    assert.equal(one('scrape_configs: [{job_name: a}]').scrapeTimeout, '10s');
    assert.equal(one('scrape_configs: [{job_name: a}]').scrapeInterval, '1m');
    assert.equal(one('global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]').scrapeTimeout, '5s');
    assert.equal(one('scrape_configs: [{job_name: a, scrape_interval: 4s}]').scrapeTimeout, '4s');
    assert.equal(one('global: {scrape_timeout: 20s}\nscrape_configs: [{job_name: a}]').scrapeTimeoutMs, 20_000);
  });

  test('Go yaml.v2 readings: yes/on are booleans, a number in a string field is its text', () => {
    const job = parseScrapeConfig(
      "scrape_configs:\n- job_name: 1.50\n  honor_labels: yes\n  static_configs: [{targets: ['a:1'], labels: {v: 1.0, w: on}}]\n",
      'x',
    ).jobs[0];
    assert.equal(job.name, '1.50');
    assert.equal(job.honorLabels, true);
    assert.deepEqual(job.staticConfigs[0].labels, { v: '1.0', w: 'on' });
  });

  test('durations as Prometheus reads and writes them', () => {
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('1.5s'), undefined);
    assert.equal(parseDuration('s'), undefined);
    assert.equal(promDuration(90_000), '1m30s');
    assert.equal(promDuration(90 * 86_400_000), '90d');
    assert.equal(promDuration(14 * 86_400_000), '2w');
    assert.equal(promDuration(1500), '1s500ms');
  });
});

describe('scrape config: bad input names the line and the key', () => {
  const refused: [string, string, RegExp, boolean][] = [
    // [what, file, error, promtool also refuses it]
    [
      'a YAML syntax error',
      'scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [a:1]\n  - job_name: b\n',
      /^f\.yml line \d+, column \d+: invalid YAML: /,
      true,
    ],
    ['a duplicate key', 'scrape_configs:\n  - job_name: a\n    job_name: b\n', /^f\.yml line 3, column 5: invalid YAML: Map keys must be unique/, true],
    [
      'kubernetes_sd_configs',
      'scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: [{role: pod}]\n',
      /^f\.yml line 3, column 5: scrape_configs\[0\]\.kubernetes_sd_configs: is not supported/,
      false,
    ],
    [
      'tls_config',
      'scrape_configs:\n  - job_name: a\n    tls_config: {insecure_skip_verify: true}\n',
      /line 3, column 5: scrape_configs\[0\]\.tls_config: is not supported/,
      false,
    ],
    [
      'an unknown key',
      'scrape_configs:\n  - job_name: a\n    sample_limt: 5\n',
      /line 3, column 5: scrape_configs\[0\]\.sample_limt: is not a key Prometheus knows/,
      true,
    ],
    [
      'an unknown action',
      'scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: replce\n        target_label: x\n',
      /line 4, column 9: scrape_configs\[0\]\.relabel_configs\[0\]: unknown relabel action "replce"/,
      true,
    ],
    [
      'a regex that is not RE2',
      'scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - regex: "(?=x).*"\n        action: drop\n        source_labels: [a]\n',
      /line 4, column 9: scrape_configs\[0\]\.metric_relabel_configs\[0\]\.regex: "\(\?=x\)\.\*" is not a regex prom2oci can run .*: lookaround/,
      true,
    ],
    ['two jobs with one name', 'scrape_configs:\n  - job_name: a\n  - job_name: a\n', /line 3, column 5: .*multiple scrape configs with job name "a"/, true],
    [
      'a timeout over the interval',
      'scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n',
      /scrape timeout greater than scrape interval/,
      true,
    ],
    ['a bad scheme', 'scrape_configs:\n  - job_name: a\n    scheme: ftp\n', /scheme: "ftp" is not http or https/, false],
    [
      'a bad label name',
      "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['a:1'], labels: {a-b: x}}]\n",
      /"a-b" is not a valid label name/,
      true,
    ],
    ['no jobs', 'global: {scrape_interval: 1m}\n', /scrape_configs: no jobs/, false],
    [
      'a secret in the file',
      'scrape_configs:\n  - job_name: a\n    authorization: {credentials: s3cr3t-token}\n',
      /authorization\.credentials: must be oci-vault:\/\/<secret OCID> .*got something else$/,
      false,
    ],
    [
      'hashmod without modulus',
      'scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: hashmod, target_label: x}]\n',
      /requires non-zero modulus/,
      true,
    ],
  ];
  for (const [what, text, message, promtoolRefuses] of refused) {
    test(what, (t) => {
      assert.throws(
        () => parseScrapeConfig(text, 'f.yml'),
        (e: Error) => e instanceof ScrapeConfigError && message.test(e.message),
      );
      try {
        parseScrapeConfig(text, 'f.yml');
      } catch (e) {
        assert.ok(!(e as Error).message.includes('s3cr3t'), 'the secret is not repeated in the error');
      }
      if (promtoolRefuses && requireBinary(t, PROMTOOL, 'prometheus')) assert.equal(promtoolCheck(text).ok, false, 'promtool refuses it too');
    });
  }
});

describe('scrape config: the SCRAPE_CONFIG setting', () => {
  test('an inline file is parsed once with the settings and replaces METRICS_ENDPOINT', () => {
    const s = parseSettings({ SCRAPE_CONFIG: "scrape_configs:\n  - job_name: app\n    static_configs: [{targets: ['127.0.0.1:9100']}]\n" });
    assert.equal(s.scrapeConfig?.jobs[0].name, 'app');
    assert.deepEqual(s.endpoints, []);
  });
  test('an error names the setting, the line and the column', () => {
    assert.throws(
      () => parseSettings({ SCRAPE_CONFIG: 'scrape_configs:\n  - job_name: a\n    consul_sd_configs: []\n' }),
      (e: Error) => e instanceof ConfigError && /^SCRAPE_CONFIG: line 3, column 5: scrape_configs\[0\]\.consul_sd_configs: is not supported/.test(e.message),
    );
  });
});

describe('scrape config: job targets as Prometheus 2.42 populates them', () => {
  const jobsOf = (text: string) => parseScrapeConfig(text, 'x').jobs;
  test('default port, instance, URL from __scheme__/__address__/__metrics_path__/__param_*, timeout from __scrape_timeout__', () => {
    const { targets } = jobTargets(
      jobsOf(`scrape_configs:
  - job_name: a
    scheme: https
    params: { module: [http_2xx], b: [x, y] }
    static_configs: [{ targets: ['example.org', '10.0.0.1:9100'], labels: { env: prod } }]
    relabel_configs:
      - { source_labels: [__address__], regex: '10\\..*', target_label: __param_module, replacement: tcp }
      - { source_labels: [__address__], regex: '10\\..*', target_label: __scrape_timeout__, replacement: 3s }
`),
      [],
    );
    assert.deepEqual(
      targets.map((t) => [t.url.href, t.labels, t.timeoutMs]),
      [
        ['https://example.org/metrics?b=x&b=y&module=http_2xx', { env: 'prod', job: 'a', instance: 'example.org:443' }, 10_000],
        ['https://10.0.0.1:9100/metrics?b=x&b=y&module=tcp', { env: 'prod', job: 'a', instance: '10.0.0.1:9100' }, 3000],
      ],
    );
  });
  test('target_limit refuses every target of the job; relabel-dropped targets are counted', () => {
    const { targets, reports } = jobTargets(
      jobsOf(`scrape_configs:
  - job_name: a
    target_limit: 1
    static_configs: [{ targets: ['h1:1', 'h2:1', 'h3:1'] }]
    relabel_configs: [{ source_labels: [__address__], regex: 'h3:1', action: drop }]
`),
      [],
    );
    assert.deepEqual(
      targets.map((t) => t.refused),
      ['target_limit exceeded (2 targets > target_limit 1)', 'target_limit exceeded (2 targets > target_limit 1)'],
    );
    assert.deepEqual(reports, [{ job: 'a', targets: 2, dropped: 1 }]);
  });
  test('reserved labels set the OCI destination; an invalid one refuses the target', () => {
    const { targets } = jobTargets(
      jobsOf(`scrape_configs:
  - job_name: a
    static_configs:
      - { targets: ['h:1'], labels: { __oci_namespace__: shop, __oci_compartment__: 'ocid1.compartment.oc1..aaaa' } }
      - { targets: ['h:2'], labels: { __oci_namespace__: oci_reserved } }
`),
      [],
    );
    assert.equal(targets[0].namespace, 'shop');
    assert.equal(targets[0].compartmentId, 'ocid1.compartment.oc1..aaaa');
    assert.deepEqual(targets[0].labels, { job: 'a', instance: 'h:1' });
    assert.match(targets[1].refused ?? '', /__oci_namespace__="oci_reserved" is not a valid OCI namespace/);
  });
  test('discovered instances feed a group labelled __oci_discovery__, with their __meta_oci_* labels', () => {
    const { targets } = jobTargets(
      jobsOf(`scrape_configs:
  - job_name: node
    static_configs: [{ labels: { __oci_discovery__: 'true', role: node } }]
    relabel_configs:
      - { source_labels: [__meta_oci_freeform_tag_scrape], regex: 'yes', action: keep }
      - { source_labels: [__meta_oci_instance_name], target_label: instance }
`),
      [
        {
          url: new URL('http://10.0.0.7:9100/metrics'),
          resourceId: 'ocid1.instance.oc1..a',
          metaLabels: { __meta_oci_instance_name: 'web-1', __meta_oci_freeform_tag_scrape: 'yes' },
        },
        { url: new URL('http://10.0.0.8:9100/metrics'), resourceId: 'ocid1.instance.oc1..b', metaLabels: { __meta_oci_instance_name: 'web-2' } },
      ],
    );
    assert.deepEqual(
      targets.map((t) => [t.url.href, t.labels, t.resourceId]),
      [['http://10.0.0.7:9100/metrics', { role: 'node', job: 'node', instance: 'web-1' }, 'ocid1.instance.oc1..a']],
    );
  });
});
