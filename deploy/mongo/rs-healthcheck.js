// Healthcheck for the single-node replica set in docker-compose.yml.
// Run by mongosh every interval: initiates replica set "rs0" on first use
// (the member is advertised as mongo:27017 so that other containers can
// connect with ?replicaSet=rs0), then reports healthy only once this node is
// a writable primary. Exit code 0 = healthy, 1 = not yet.
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") {
    throw e;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
if (!db.hello().isWritablePrimary) {
  quit(1);
}
