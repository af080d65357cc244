/*
 * abtest storefront snippet: assign a sales script, report events and the post-chat survey.
 *
 *   <script src="/static/abtest.js"></script>
 *   AbTest.init({endpoint: "https://abtest.example.com/api/v1", apiKey: "<storefront key>"});
 *   const a = await AbTest.assign("urgency-close", null, {channel: "chat"});
 *   scriptElement.textContent = a.text;          // always textContent, never innerHTML
 *   AbTest.track("conversion"); AbTest.track("revenue", 199);
 *   AbTest.feedback({experiment: "urgency-close", rating: 5, helpful: true, moved_by: "stock_left"});
 *
 * The shopper's unit id is kept in localStorage (a fresh random id on the first visit), so a
 * returning shopper keeps their arm. Every event and survey answer gets a client event id
 * (crypto.randomUUID) before the first attempt; retries after a network error or a 5xx/429 reuse
 * it, so the server stores each one once however often it is sent.
 */
(function (global) {
  "use strict";

  var STORAGE_KEY = "abtest.unit_id";
  var RETRIES = 3;
  var state = {endpoint: null, apiKey: null, unitId: null, experiment: null};
  var memoryUnitId = null;

  function uuid() {
    if (global.crypto && typeof global.crypto.randomUUID === "function") {
      return global.crypto.randomUUID();
    }
    var bytes = global.crypto.getRandomValues(new Uint8Array(16));  // RFC 4122 version 4
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
            hex.slice(20)].join("-");
  }

  /** The browser's persistent unit id (in memory only when storage is blocked). */
  function storedUnitId() {
    try {
      var id = global.localStorage.getItem(STORAGE_KEY);
      if (!id) {
        id = uuid();
        global.localStorage.setItem(STORAGE_KEY, id);
      }
      return id;
    } catch (blocked) {
      memoryUnitId = memoryUnitId || uuid();
      return memoryUnitId;
    }
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function retryable(status) {
    return status === 429 || status >= 500;
  }

  /** POST JSON with the bearer key; the same body is resent on transient failures. */
  async function post(path, body) {
    if (!state.endpoint || !state.apiKey) {
      throw new Error("AbTest.init({endpoint, apiKey}) must be called first");
    }
    var payload = JSON.stringify(body);
    for (var attempt = 1; ; attempt++) {
      var response = null;
      try {
        response = await fetch(state.endpoint + path, {
          method: "POST",
          headers: {"Content-Type": "application/json", "Authorization": "Bearer " + state.apiKey},
          body: payload,
        });
      } catch (networkError) {
        if (attempt >= RETRIES) { throw networkError; }
      }
      if (response && response.ok) { return response.json(); }
      if (response && (!retryable(response.status) || attempt >= RETRIES)) {
        var answer = await response.json().catch(function () { return {}; });
        var error = (answer && answer.error) || {};
        throw new Error(error.message || ("abtest API answered " + response.status));
      }
      await sleep(250 * Math.pow(2, attempt - 1));
    }
  }

  var AbTest = {
    /** endpoint: the API base URL (…/api/v1); apiKey: a storefront key; unitId: optional override. */
    init: function (options) {
      state.endpoint = String(options.endpoint).replace(/\/+$/, "");
      state.apiKey = options.apiKey;
      state.unitId = options.unitId || null;
      return AbTest;
    },

    /** The unit id events are reported for: the override, else the stored one. */
    unitId: function () {
      return state.unitId || storedUnitId();
    },

    /** Resolves to {arm, text, in_experiment, variants} for this shopper (sticky on the server). */
    assign: async function (experiment, unitId, attributes) {
      if (unitId) { state.unitId = unitId; }
      var answer = await post("/assign", {
        experiment: experiment, unit_id: AbTest.unitId(), attributes: attributes || {},
      });
      state.experiment = experiment;
      return {arm: answer.arm, text: answer.text, in_experiment: answer.in_experiment,
              variants: answer.variants};
    },

    /** Report an event (conversion, revenue with its value...) for the last assigned experiment
     *  unless options.experiment names another. */
    track: function (name, value, options) {
      var event = {event_id: uuid(), unit_id: AbTest.unitId(), name: name,
                   experiment: (options && options.experiment) || state.experiment};
      if (value !== undefined && value !== null) { event.value = value; }
      return post("/events", {events: [event]});
    },

    /** Post the survey: {rating 1-5, helpful, moved_by?, confused_by?, comment?, experiment?}. */
    feedback: function (answer) {
      var body = {event_id: uuid(), unit_id: AbTest.unitId(),
                  experiment: answer.experiment || state.experiment,
                  rating: answer.rating, helpful: answer.helpful};
      ["moved_by", "confused_by", "comment"].forEach(function (field) {
        if (answer[field]) { body[field] = answer[field]; }
      });
      return post("/feedback", body);
    },
  };

  global.AbTest = AbTest;
})(window);
