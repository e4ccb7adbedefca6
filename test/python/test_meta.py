"""The release metadata: META.json, the control files, debian/ and `make dist`.

Needs no server.  The versions that META.json gives must agree with the
control files and debian/changelog, and the PGXN archive that `make dist`
packs must hold the extensions' files and nothing a build leaves behind.
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import zipfile

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSIONS = ("hacienda_ratelimit", "hacienda_ratelimit_compat")

# The keys meta-spec 1.0.0 requires, and those this distribution promises besides.
REQUIRED_KEYS = ("name", "version", "abstract", "maintainer", "license", "provides",
                 "meta-spec")
PROMISED_KEYS = ("description", "prereqs", "release_status", "generated_by", "tags")

SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")

# Names that only a build, a test run or an editor leaves in the tree.
BUILD_PRODUCTS = ("*.o", "*.bc", "*.so", "*.a", "*.deb", "*.zip", "*.pyc",
                  "*/build/*", "*/build-*/*", "*/results/*", "*/tmp_check/*",
                  "*/regression.diffs", "*/regression.out", "*/__pycache__/*",
                  "*/.git/*", "*/debian/.debhelper/*", "*/debian/postgresql-*/*",
                  "*/debian/files", "*/debian/*.substvars", "*/debian/*debhelper.log")


def read_meta():
    """META.json, parsed."""
    with open(os.path.join(SOURCE, "META.json"), encoding="utf-8") as f:
        return json.load(f)


def control_setting(extension, name):
    """One setting of an extension's control file, without its quotes."""
    path = os.path.join(SOURCE, extension + ".control")
    with open(path, encoding="utf-8") as f:
        for line in f:
            match = re.match(r"^\s*%s\s*=\s*'?([^'#]*?)'?\s*(#.*)?$" % name, line)
            if match:
                return match.group(1)
    raise AssertionError("%s has no %s" % (path, name))


def changelog_version():
    """The version of the newest entry of debian/changelog, without a Debian revision."""
    with open(os.path.join(SOURCE, "debian", "changelog"), encoding="utf-8") as f:
        first = f.readline()
    match = re.match(r"^\S+ \(([^)]+)\) ", first)
    if not match:
        raise AssertionError("invalid first line in debian/changelog: %r" % first)
    return match.group(1).rsplit("-", 1)[0]


def major_minor(semver):
    """The major and minor parts of a version, the form the control files use."""
    return ".".join(semver.split(".")[:2])


class MetaTest(unittest.TestCase):
    """META.json is valid and agrees with the control files and debian/."""

    def test_required_keys(self):
        meta = read_meta()

        for key in REQUIRED_KEYS + PROMISED_KEYS:
            self.assertIn(key, meta)
        self.assertEqual(meta["name"], "hacienda_ratelimit")
        self.assertEqual(meta["meta-spec"]["version"], "1.0.0")
        self.assertIn(meta["release_status"], ("stable", "testing", "unstable"))
        self.assertRegex(meta["version"], SEMVER)

    def test_provides_each_extension(self):
        provides = read_meta()["provides"]

        self.assertEqual(sorted(provides), sorted(EXTENSIONS))
        for extension, entry in provides.items():
            self.assertRegex(entry["version"], SEMVER)
            for name in ("file", "docfile"):
                self.assertTrue(os.path.isfile(os.path.join(SOURCE, entry[name])),
                                "%s of %s: %s" % (name, extension, entry[name]))

    def test_versions_match_control_files(self):
        provides = read_meta()["provides"]

        for extension in EXTENSIONS:
            self.assertEqual(major_minor(provides[extension]["version"]),
                             control_setting(extension, "default_version"), extension)

    def test_distribution_is_main_extension_version(self):
        meta = read_meta()

        self.assertEqual(meta["version"], meta["provides"]["hacienda_ratelimit"]["version"])

    def test_version_matches_debian_changelog(self):
        self.assertEqual(changelog_version(), read_meta()["version"])

    def test_postgresql_version_matches_debian(self):
        wanted = read_meta()["prereqs"]["runtime"]["requires"]["PostgreSQL"]
        with open(os.path.join(SOURCE, "debian", "pgversions"), encoding="utf-8") as f:
            versions = [line.strip() for line in f if line.strip()[:1].isdigit()]

        self.assertEqual(versions, [wanted.split(".")[0]])


class DistTest(unittest.TestCase):
    """`make dist` packs HEAD of a clone as a PGXN archive."""

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(os.path.join(SOURCE, ".git")):
            raise unittest.SkipTest("the sources are not a git checkout")
        cls.tmp = tempfile.mkdtemp(prefix="hacienda_ratelimit_dist.")
        clone = os.path.join(cls.tmp, "clone")
        subprocess.run(["git", "clone", "--quiet", "--shared", SOURCE, clone], check=True)

        pg_bin = os.environ.get("HR_PG_BIN", "/usr/lib/postgresql/15/bin")
        subprocess.run(["make", "-s", "-C", clone, "dist",
                        "PG_CONFIG=" + os.path.join(pg_bin, "pg_config")], check=True)

        cls.version = read_meta()["version"]
        cls.prefix = "hacienda_ratelimit-%s/" % cls.version
        cls.archive = os.path.join(clone, "hacienda_ratelimit-%s.zip" % cls.version)
        with zipfile.ZipFile(cls.archive) as archive:
            cls.names = archive.namelist()
        cls.committed = subprocess.run(["git", "-C", SOURCE, "ls-files"], check=True,
                                       capture_output=True, text=True).stdout.split()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_everything_under_one_prefix(self):
        self.assertTrue(self.names)
        for name in self.names:
            self.assertTrue(name.startswith(self.prefix), name)

    def test_holds_control_files_and_scripts(self):
        committed_sql = [name for name in self.committed
                         if fnmatch.fnmatch(name, "hacienda_ratelimit*--*.sql")]
        wanted = ["META.json", "Makefile", "README.md"] + committed_sql
        wanted += [extension + ".control" for extension in EXTENSIONS]

        self.assertGreaterEqual(len(committed_sql), 3)
        for name in wanted:
            self.assertIn(self.prefix + name, self.names)

    def test_holds_no_build_products(self):
        for name in self.names:
            for pattern in BUILD_PRODUCTS:
                self.assertFalse(fnmatch.fnmatch("/" + name, pattern),
                                 "%s matches %s" % (name, pattern))


if __name__ == "__main__":
    unittest.main()
