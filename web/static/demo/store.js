/* Demo storefront page: everything goes through the public snippet (AbTest), as on a real shop.
 * Every text from the server is inserted with textContent, so a script parameter can never
 * become markup. */
(function () {
  "use strict";

  var settings = JSON.parse(document.getElementById("demo-settings").textContent);
  var CHAT_DELAY_MS = 600;  // the "simulated chat": the survey appears once the agent has spoken

  function byId(id) { return document.getElementById(id); }

  function showError(error) {
    var box = byId("error");
    box.textContent = "出错了：" + error.message;
    box.hidden = false;
  }

  function fillUnitChoices(select, units) {
    units.forEach(function (unit) {
      var option = document.createElement("option");
      option.value = unit;
      option.textContent = settings.unitNames[unit] || unit;
      select.appendChild(option);
    });
  }

  function showAssignment(result) {
    byId("script").textContent = result.text;
    byId("arm").textContent = result.arm;
    byId("unit-id").textContent = AbTest.unitId();
    byId("in-experiment").textContent = result.in_experiment ? "in experiment" : "not in experiment";
    var units = Object.keys(result.variants).filter(function (unit) {
      return (settings.silentVariants[unit] || []).indexOf(result.variants[unit]) < 0;
    });
    fillUnitChoices(byId("moved-by"), units);
    fillUnitChoices(byId("confused-by"), units);
    byId("buy").disabled = false;
    setTimeout(function () { byId("survey").hidden = false; }, CHAT_DELAY_MS);
  }

  async function buy() {
    byId("buy").disabled = true;
    try {
      await AbTest.track("conversion");
      await AbTest.track("revenue", settings.product.price);
      byId("order-status").textContent = "下单成功，谢谢惠顾！";
    } catch (error) {
      byId("buy").disabled = false;
      showError(error);
    }
  }

  async function sendSurvey(event) {
    event.preventDefault();
    var form = event.target;
    var data = new FormData(form);
    try {
      await AbTest.feedback({
        rating: Number(data.get("rating")),
        helpful: data.get("helpful") === "yes",
        moved_by: data.get("moved_by") || null,
        confused_by: data.get("confused_by") || null,
        comment: (data.get("comment") || "").trim() || null,
      });
      form.hidden = true;
      byId("survey-status").textContent = "谢谢你的反馈！";
    } catch (error) {
      showError(error);
    }
  }

  AbTest.init({endpoint: settings.endpoint, apiKey: settings.apiKey, unitId: settings.unitId});
  byId("buy").addEventListener("click", buy);
  byId("survey").addEventListener("submit", sendSurvey);
  AbTest.assign(settings.experiment, settings.unitId, settings.attributes)
    .then(showAssignment, showError);
})();
